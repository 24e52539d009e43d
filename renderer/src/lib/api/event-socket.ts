// The event WebSocket of `zhongjing serve`, kept open for the life of the page. When it drops
// (serve restarted, laptop slept) it reconnects with exponential backoff plus jitter, so many
// tabs do not hammer a restarting server in lockstep. After a reconnect it reports a resync,
// because events sent while it was down are gone.
import type {ApiEvent} from '../../../../main/common/contract';

const FIRST_DELAY_MS = 500;
const MAX_DELAY_MS = 15_000;

export class EventSocket {
  private socket: WebSocket | null = null;
  private attempt = 0;
  private everOpened = false;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private stopped = false;

  constructor(
    private readonly url: string,
    private readonly onEvent: (event: ApiEvent) => void,
    private readonly onResync: () => void,
    /** the socket dropped (false) or came back (true): the page says so while it is down */
    private readonly onConnection: (connected: boolean) => void = () => {},
  ) {
    // Coming back online is a good moment to try at once instead of waiting out the backoff.
    window.addEventListener('online', () => this.reconnectNow());
    this.connect();
  }

  private connect(): void {
    this.timer = null;
    const socket = new WebSocket(this.url);
    this.socket = socket;
    socket.onopen = () => {
      this.attempt = 0;
      if (this.everOpened) {
        this.onConnection(true);
        this.onResync();
      }
      this.everOpened = true;
    };
    socket.onmessage = (message) => {
      if (typeof message.data !== 'string') return;
      let event: unknown;
      try {
        event = JSON.parse(message.data);
      } catch {
        return; // a malformed frame is dropped; the next one is independent
      }
      if (event && typeof event === 'object' && typeof (event as {type?: unknown}).type === 'string') {
        this.onEvent(event as ApiEvent);
      }
    };
    // 'error' is always followed by 'close', which does the rescheduling.
    socket.onclose = () => {
      if (this.socket !== socket) return;
      if (this.everOpened && this.attempt === 0 && !this.stopped) this.onConnection(false);
      this.scheduleReconnect();
    };
  }

  /** For good: used once the token is known to be wrong, so we stop knocking. */
  close(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.socket?.close();
  }

  private scheduleReconnect(): void {
    if (this.timer || this.stopped) return;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    this.attempt += 1;
    const delay = base * (0.75 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.connect(), delay);
  }

  private reconnectNow(): void {
    if (this.stopped) return;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) return;
    if (this.timer) clearTimeout(this.timer);
    this.connect();
  }
}
