// Developer-facing log lines go to stderr; people see AppError texts, never stack traces.
export function logError(context: string, error: unknown): void {
  const detail = error instanceof Error ? (error.stack ?? error.message) : String(error);
  process.stderr.write(`[zhongjing] ${context}: ${detail}\n`);
}
