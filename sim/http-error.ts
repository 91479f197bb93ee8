/** An error the simulator answers with: HTTP status plus the API's `{success, error, msg}` body. */
export class SimHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
