import type { HrTime } from '@opentelemetry/api';
import type { InstrumentationScope } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';

/**
 * Writes OTLP trace protobuf (opentelemetry/proto/trace/v1/trace.proto) one span at a time, for
 * the StreamingSpanProcessor: a span is encoded when it ends, so the span object dies with its
 * request instead of waiting for its batch (see streaming-span-processor.ts for why that matters).
 *
 * The SDK's own serializer (ProtobufTraceSerializer in @opentelemetry/otlp-transformer) only
 * takes a whole batch of span objects; its output is the oracle in otlp-span-encoder.spec.ts.
 * Lengths of nested messages are written after their content: one byte is reserved, and the
 * content moves up when the length needs more.
 */
export class OtlpSpanEncoder {
  private buf: Buffer;
  /** Bytes written so far. */
  pos = 0;

  constructor(initialSize = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

  /** The bytes written so far (a view: valid until the next write or reset). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.pos);
  }

  reset(): void {
    this.pos = 0;
  }

  /** Appends `Span` as field 2 of a ScopeSpans message (tag included). */
  span(span: ReadableSpan): void {
    this.tag(2, LEN);
    const start = this.begin();
    const ctx = span.spanContext();
    this.tag(1, LEN);
    this.hexBytes(ctx.traceId);
    this.tag(2, LEN);
    this.hexBytes(ctx.spanId);
    const traceState = ctx.traceState?.serialize();
    if (traceState) this.stringField(3, traceState);
    const parent = span.parentSpanContext;
    if (parent?.spanId) {
      this.tag(4, LEN);
      this.hexBytes(parent.spanId);
    }
    this.stringField(5, span.name);
    // OTLP's SpanKind counts from 1 (0 is UNSPECIFIED); the API's from 0 (INTERNAL).
    this.tag(6, VARINT);
    this.varint(span.kind + 1);
    this.tag(7, I64);
    this.hrTime(span.startTime);
    this.tag(8, I64);
    this.hrTime(span.endTime);
    this.attributes(9, span.attributes);
    if (span.droppedAttributesCount) this.varintField(10, span.droppedAttributesCount);
    for (const event of span.events) {
      this.tag(11, LEN);
      const e = this.begin();
      this.tag(1, I64);
      this.hrTime(event.time);
      this.stringField(2, event.name);
      if (event.attributes) this.attributes(3, event.attributes);
      if (event.droppedAttributesCount) this.varintField(4, event.droppedAttributesCount);
      this.end(e);
    }
    if (span.droppedEventsCount) this.varintField(12, span.droppedEventsCount);
    for (const link of span.links) {
      this.tag(13, LEN);
      const l = this.begin();
      this.tag(1, LEN);
      this.hexBytes(link.context.traceId);
      this.tag(2, LEN);
      this.hexBytes(link.context.spanId);
      const linkState = link.context.traceState?.serialize();
      if (linkState) this.stringField(3, linkState);
      if (link.attributes) this.attributes(4, link.attributes);
      if (link.droppedAttributesCount) this.varintField(5, link.droppedAttributesCount);
      this.tag(6, I32);
      this.fixed32(spanFlags(link.context.traceFlags, link.context.isRemote));
      this.end(l);
    }
    if (span.droppedLinksCount) this.varintField(14, span.droppedLinksCount);
    this.tag(15, LEN);
    const s = this.begin();
    if (span.status.message) this.stringField(2, span.status.message);
    if (span.status.code) this.varintField(3, span.status.code);
    this.end(s);
    this.tag(16, I32);
    this.fixed32(spanFlags(ctx.traceFlags, parent?.isRemote));
    this.end(start);
  }

  /** Appends `Resource` as field 1 of a ResourceSpans message. */
  resource(resource: Resource): void {
    this.tag(1, LEN);
    const start = this.begin();
    this.attributes(1, resource.attributes);
    this.end(start);
  }

  /** Appends `InstrumentationScope` as field 1 of a ScopeSpans message. */
  scope(scope: InstrumentationScope): void {
    this.tag(1, LEN);
    const start = this.begin();
    this.stringField(1, scope.name);
    if (scope.version) this.stringField(2, scope.version);
    this.end(start);
  }

  /** Starts a length-delimited message (its tag already written); returns where its length goes. */
  begin(): number {
    this.reserve(1);
    return this.pos++;
  }

  /** Ends the message `begin` started: writes its length, moving the content up if it needs more than one byte. */
  end(start: number): void {
    const length = this.pos - start - 1;
    if (length < 0x80) {
      this.buf[start] = length;
      return;
    }
    const extra = varintSize(length) - 1;
    this.reserve(extra);
    this.buf.copyWithin(start + 1 + extra, start + 1, this.pos);
    this.pos += extra;
    const end = this.pos;
    this.pos = start;
    this.varint(length);
    this.pos = end;
  }

  /** Appends raw, already encoded bytes. */
  raw(bytes: Uint8Array): void {
    this.reserve(bytes.length);
    this.buf.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  private stringField(field: number, value: string): void {
    this.tag(field, LEN);
    this.string(value);
  }

  private varintField(field: number, value: number): void {
    this.tag(field, VARINT);
    this.varint(value);
  }

  private attributes(field: number, attributes: Record<string, unknown>): void {
    for (const key in attributes) {
      const value = attributes[key];
      if (value === undefined) continue;
      this.tag(field, LEN);
      const kv = this.begin();
      this.stringField(1, key);
      this.tag(2, LEN);
      const v = this.begin();
      this.anyValue(value);
      this.end(v);
      this.end(kv);
    }
  }

  /** The content of an AnyValue; null and undefined leave it empty. */
  private anyValue(value: unknown): void {
    switch (typeof value) {
      case 'string':
        this.stringField(1, value);
        return;
      case 'boolean':
        this.varintField(2, value ? 1 : 0);
        return;
      case 'number':
        if (Number.isInteger(value) && value >= -(2 ** 63) && value < 2 ** 63) {
          this.tag(3, VARINT);
          this.varint(value);
        } else {
          this.tag(4, I64);
          this.reserve(8);
          this.buf.writeDoubleLE(value, this.pos);
          this.pos += 8;
        }
        return;
      case 'bigint':
        this.tag(3, VARINT);
        this.varint(Number(BigInt.asIntN(64, value)));
        return;
      case 'object':
        if (value === null) return;
        if (value instanceof Uint8Array) {
          this.tag(7, LEN);
          this.varint(value.length);
          this.raw(value);
        } else if (Array.isArray(value)) {
          this.tag(5, LEN);
          const array = this.begin();
          for (const item of value) {
            this.tag(1, LEN);
            const entry = this.begin();
            this.anyValue(item);
            this.end(entry);
          }
          this.end(array);
        } else {
          this.tag(6, LEN);
          const list = this.begin();
          this.attributes(1, value as Record<string, unknown>);
          this.end(list);
        }
        return;
      default:
        return;
    }
  }

  /** A length-prefixed UTF-8 string. Short ASCII strings (most keys and values) skip the native call. */
  private string(value: string): void {
    const n = value.length;
    if (n < 0x80) {
      this.reserve(1 + n);
      const buf = this.buf;
      let p = this.pos + 1;
      let i = 0;
      for (; i < n; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === n) {
        buf[this.pos] = n;
        this.pos = p;
        return;
      }
    }
    const length = Buffer.byteLength(value, 'utf8');
    this.varint(length);
    this.reserve(length);
    this.buf.write(value, this.pos, length, 'utf8');
    this.pos += length;
  }

  /** Writes a hex id (trace or span id) as its bytes, with the length prefix. */
  private hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.reserve(1 + n);
    const buf = this.buf;
    buf[this.pos++] = n;
    for (let i = 0; i < n; i++) buf[this.pos++] = (HEX[hex.charCodeAt(2 * i)] << 4) | HEX[hex.charCodeAt(2 * i + 1)];
  }

  /** A varint of a non-negative integer below 2^53, or a negative one as 64-bit two's complement. */
  private varint(value: number): void {
    this.reserve(10);
    const buf = this.buf;
    if (value >= 0 && value <= 0xffffffff) {
      while (value > 0x7f) {
        buf[this.pos++] = (value & 0x7f) | 0x80;
        value >>>= 7;
      }
      buf[this.pos++] = value;
      return;
    }
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = Math.floor(value / 2 ** 32) >>> 0;
    } else {
      const big = BigInt.asUintN(64, BigInt(value));
      low = Number(big & 0xffffffffn);
      high = Number(big >> 32n);
    }
    while (high > 0 || low > 0x7f) {
      buf[this.pos++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    buf[this.pos++] = low;
  }

  private fixed32(value: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(value >>> 0, this.pos);
    this.pos += 4;
  }

  /**
   * HrTime ([seconds, nanoseconds]) as fixed64 nanoseconds. seconds × 1e9 passes 2^53, so the
   * seconds are split at 2^16: low × 1e9 + nanos stays exact, and high × 1e9 is shifted by 16 bits.
   */
  private hrTime([seconds, nanos]: HrTime): void {
    const secLow = seconds % 65536;
    const a = secLow * 1e9 + nanos;
    const b = ((seconds - secLow) / 65536) * 1e9;
    const bLow = b % 65536;
    const lowSum = bLow * 65536 + (a % 2 ** 32);
    const low = lowSum % 2 ** 32;
    const high = (b - bLow) / 65536 + Math.floor(a / 2 ** 32) + Math.floor(lowSum / 2 ** 32);
    this.reserve(8);
    this.buf.writeUInt32LE(low, this.pos);
    this.buf.writeUInt32LE(high >>> 0, this.pos + 4);
    this.pos += 8;
  }

  private reserve(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + bytes) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.buf.copy(grown, 0, 0, this.pos);
    this.buf = grown;
  }
}

const VARINT = 0;
const I64 = 1;
const LEN = 2;
const I32 = 5;

/** Span.flags: the W3C trace flags, and whether the parent (or link) context is known to be remote. */
function spanFlags(traceFlags: number, isRemote: boolean | undefined): number {
  return (traceFlags & 0xff) | 0x100 | (isRemote ? 0x200 : 0);
}

function varintSize(value: number): number {
  let size = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Hex digit value by char code. */
const HEX = new Uint8Array(128);
for (let i = 0; i < 10; i++) HEX[48 + i] = i;
for (let i = 0; i < 6; i++) HEX[97 + i] = HEX[65 + i] = 10 + i;
