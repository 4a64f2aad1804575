/**
 * Decodes an OTLP ExportTraceServiceRequest in protobuf (opentelemetry/proto/trace/v1) into the
 * shape of its JSON mapping (camelCase names, hex ids, 64-bit integers as decimal strings), with
 * proto3 defaults filled in, so two encodings compare with toEqual whatever fields they left at
 * their default. Written against the .proto files, independently of the encoders under test.
 */

interface WireField {
  no: number;
  wire: number;
  value: bigint | Uint8Array;
}

function varint(buf: Uint8Array, p: number): [bigint, number] {
  let result = 0n;
  let shift = 0n;
  for (;;) {
    if (p >= buf.length) throw new Error('protobuf: truncated varint');
    const b = buf[p++];
    result |= BigInt(b & 0x7f) << shift;
    if (b < 0x80) return [result, p];
    shift += 7n;
    if (shift > 63n) throw new Error('protobuf: varint too long');
  }
}

/** The fields of one message, in wire order; throws on truncated or unknown wire types. */
export function wireFields(buf: Uint8Array): WireField[] {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: WireField[] = [];
  let p = 0;
  while (p < buf.length) {
    const [tag, afterTag] = varint(buf, p);
    p = afterTag;
    const no = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const [value, next] = varint(buf, p);
      out.push({ no, wire, value });
      p = next;
    } else if (wire === 1) {
      if (p + 8 > buf.length) throw new Error('protobuf: truncated fixed64');
      out.push({ no, wire, value: view.getBigUint64(p, true) });
      p += 8;
    } else if (wire === 2) {
      const [length, next] = varint(buf, p);
      const end = next + Number(length);
      if (end > buf.length) throw new Error('protobuf: truncated length-delimited field');
      out.push({ no, wire, value: buf.subarray(next, end) });
      p = end;
    } else if (wire === 5) {
      if (p + 4 > buf.length) throw new Error('protobuf: truncated fixed32');
      out.push({ no, wire, value: BigInt(view.getUint32(p, true)) });
      p += 4;
    } else {
      throw new Error(`protobuf: wire type ${wire} in field ${no}`);
    }
  }
  return out;
}

type Message = WireField[];
const all = (m: Message, no: number) => m.filter((f) => f.no === no).map((f) => f.value);
const last = (m: Message, no: number) => all(m, no).at(-1);
const sub = (m: Message, no: number): Message => {
  const v = last(m, no);
  return v instanceof Uint8Array ? wireFields(v) : [];
};
const str = (m: Message, no: number) => {
  const v = last(m, no);
  return v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : '';
};
const hex = (m: Message, no: number) => {
  const v = last(m, no);
  return v instanceof Uint8Array ? Buffer.from(v).toString('hex') : '';
};
const num = (m: Message, no: number) => {
  const v = last(m, no);
  return typeof v === 'bigint' ? Number(v) : 0;
};
const u64 = (m: Message, no: number) => {
  const v = last(m, no);
  return typeof v === 'bigint' ? v.toString() : '0';
};

export type AnyValue =
  | { stringValue: string }
  | { boolValue: boolean }
  | { intValue: string }
  | { doubleValue: number }
  | { arrayValue: { values: AnyValue[] } }
  | { kvlistValue: { values: KeyValue[] } }
  | { bytesValue: string }
  | Record<string, never>;
export interface KeyValue {
  key: string;
  value: AnyValue;
}

function anyValue(m: Message): AnyValue {
  const f = m.at(-1);
  if (!f) return {};
  switch (f.no) {
    case 1:
      return { stringValue: str(m, 1) };
    case 2:
      return { boolValue: num(m, 2) !== 0 };
    case 3:
      return { intValue: BigInt.asIntN(64, f.value as bigint).toString() };
    case 4: {
      const view = new DataView(new ArrayBuffer(8));
      view.setBigUint64(0, f.value as bigint, true);
      return { doubleValue: view.getFloat64(0, true) };
    }
    case 5:
      return { arrayValue: { values: all(m, 1).map((v) => anyValue(wireFields(v as Uint8Array))) } };
    case 6:
      return { kvlistValue: { values: all(m, 1).map((v) => keyValue(wireFields(v as Uint8Array))) } };
    case 7:
      return { bytesValue: hex(m, 7) };
    default:
      throw new Error(`AnyValue: unknown field ${f.no}`);
  }
}

const keyValue = (m: Message): KeyValue => ({ key: str(m, 1), value: anyValue(sub(m, 2)) });
const keyValues = (m: Message, no: number) => all(m, no).map((v) => keyValue(wireFields(v as Uint8Array)));

function span(m: Message) {
  const status = sub(m, 15);
  return {
    traceId: hex(m, 1),
    spanId: hex(m, 2),
    traceState: str(m, 3),
    parentSpanId: hex(m, 4),
    name: str(m, 5),
    kind: num(m, 6),
    startTimeUnixNano: u64(m, 7),
    endTimeUnixNano: u64(m, 8),
    attributes: keyValues(m, 9),
    droppedAttributesCount: num(m, 10),
    events: all(m, 11).map((v) => {
      const e = wireFields(v as Uint8Array);
      return { timeUnixNano: u64(e, 1), name: str(e, 2), attributes: keyValues(e, 3), droppedAttributesCount: num(e, 4) };
    }),
    droppedEventsCount: num(m, 12),
    links: all(m, 13).map((v) => {
      const l = wireFields(v as Uint8Array);
      return { traceId: hex(l, 1), spanId: hex(l, 2), traceState: str(l, 3), attributes: keyValues(l, 4), droppedAttributesCount: num(l, 5), flags: num(l, 6) };
    }),
    droppedLinksCount: num(m, 14),
    status: { message: str(status, 2), code: num(status, 3) },
    flags: num(m, 16),
  };
}

export type DecodedSpan = ReturnType<typeof span>;

/** ExportTraceServiceRequest → { resourceSpans: [{ resource, scopeSpans: [{ scope, spans }] }] }. */
export function decodeTraceRequest(bytes: Uint8Array) {
  return {
    resourceSpans: all(wireFields(bytes), 1).map((rsBytes) => {
      const rs = wireFields(rsBytes as Uint8Array);
      const resource = sub(rs, 1);
      return {
        resource: { attributes: keyValues(resource, 1), droppedAttributesCount: num(resource, 2) },
        scopeSpans: all(rs, 2).map((ssBytes) => {
          const ss = wireFields(ssBytes as Uint8Array);
          const scope = sub(ss, 1);
          return {
            scope: { name: str(scope, 1), version: str(scope, 2), attributes: keyValues(scope, 3), droppedAttributesCount: num(scope, 4) },
            spans: all(ss, 2).map((s) => span(wireFields(s as Uint8Array))),
            schemaUrl: str(ss, 3),
          };
        }),
        schemaUrl: str(rs, 3),
      };
    }),
  };
}

/** The spans of a request, flattened, with attributes as a plain object (`{ key: value }`). */
export function decodedSpans(bytes: Uint8Array): Array<Omit<DecodedSpan, 'attributes'> & { attributes: Record<string, unknown> }> {
  return decodeTraceRequest(bytes).resourceSpans.flatMap((rs) =>
    rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => ({ ...s, attributes: Object.fromEntries(s.attributes.map(({ key, value }) => [key, Object.values(value)[0]])) }))),
  );
}
