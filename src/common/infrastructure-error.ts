/**
 * Recognises failures of the database or Redis that a client should see as 503 (try again)
 * rather than 500, and says which in words. Returns null for anything else.
 */
export function classifyInfrastructureError(error: unknown): string | null {
  if (!(error instanceof Error)) return null;
  const message = error.message ?? '';
  const code = (error as NodeJS.ErrnoException).code ?? '';
  if (message.includes('timeout exceeded when trying to connect')) {
    return 'database connection pool exhausted: no connection became free within DB_POOL_TIMEOUT';
  }
  if (error.name === 'MaxRetriesPerRequestError' || message.includes('Connection is closed') || message.startsWith('redis ')) {
    return 'cache (Redis) unavailable';
  }
  if (
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', '57P01', '57P03', '08006', '08001', '08003'].includes(code) ||
    message.includes('Connection terminated') ||
    message.includes('database did not answer')
  ) {
    return 'database unavailable';
  }
  if (code === 'SQLITE_BUSY') return 'database busy';
  return null;
}
