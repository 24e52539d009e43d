import type {ApiClient} from '../../../../main/common/contract';

/** The contract's ApiClient plus one hook the UI may use without knowing the transport:
 * `onResync` fires when events may have been missed (the HTTP event socket reconnected after a
 * drop), so the screens re-read what they show. Over IPC no event is ever lost and it never fires. */
export interface RendererClient extends ApiClient {
  onResync(listener: () => void): () => void;
  /** false when the link to the services dropped (serve stopped or restarting), true when it is
   * back; over IPC the services live in the app itself and it never fires. */
  onConnection(listener: (connected: boolean) => void): () => void;
}
