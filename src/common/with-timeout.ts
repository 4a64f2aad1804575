/**
 * Settles like `promise`, or rejects with `Error(message)` after `ms`. The timer is cleared
 * either way; the promise itself is not cancelled (callers that can abort pass a signal too).
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
