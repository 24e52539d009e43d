// A reply to a request and the events about the same object travel on two channels (the HTTP
// reply and the event stream), so an event sent after the reply was made can arrive before it.
// A job that ends at once (a download answered 404, a training run that fails on its first step)
// then has its final event overwritten by the older "running" snapshot the request returned.
// This keeps, per object id, the number of the last event seen: a snapshot is applied only when
// no event about its object arrived while its request was in flight.
export class EventOrder {
  private count = 0;
  private readonly lastEventOf = new Map<string, number>();

  /** call for every event about `id` */
  saw(id: string): void {
    this.lastEventOf.set(id, ++this.count);
  }

  /** call before sending a request; pass the result to `isStale` with the reply */
  mark(): number {
    return this.count;
  }

  /** true when an event about `id` arrived after `mark` was taken: the reply is older than it */
  isStale(id: string, mark: number): boolean {
    return (this.lastEventOf.get(id) ?? -1) > mark;
  }
}
