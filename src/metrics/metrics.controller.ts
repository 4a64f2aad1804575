import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { MetricsService } from './metrics.service.js';
import { POD_METRICS, PodMetrics, SiblingUnavailableError } from './pod-metrics.js';

@ApiTags('metrics')
@Controller('metrics')
export class MetricsController {
  constructor(
    @Inject(MetricsService) private readonly metrics: MetricsService,
    @Inject(POD_METRICS) private readonly pod: PodMetrics | null,
  ) {}

  @Get()
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({
    summary: 'Prometheus metrics of the whole pod',
    description:
      'Under PM2, the merged metrics of every worker (counters never go back when a worker is recycled); 503 if a running worker does not report in time.',
  })
  async scrape(): Promise<string> {
    if (!this.pod) return this.metrics.registry.metrics();
    try {
      return await this.pod.scrape();
    } catch (error) {
      if (error instanceof SiblingUnavailableError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }

  @Get('worker')
  @Header('content-type', 'text/plain; version=0.0.4; charset=utf-8')
  @ApiOperation({ summary: 'Prometheus metrics of the worker that answers (for debugging load balance)' })
  async scrapeWorker(): Promise<string> {
    return this.metrics.registry.metrics();
  }
}
