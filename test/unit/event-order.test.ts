// The renderer's rule for a request's reply racing the events about the same object
// (renderer/src/lib/state/event-order.ts): a download answered 404 says "failed" by event before
// the `models.download` reply saying "running" arrives; the reply must not win.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {EventOrder} from '../../renderer/src/lib/state/event-order.js';

test('a reply is stale only when an event about its own object arrived while it was in flight', () => {
  const order = new EventOrder();
  order.saw('a'); // before the request: the reply is newer
  const mark = order.mark();
  assert.equal(order.isStale('a', mark), false);
  order.saw('b'); // another object's event changes nothing for 'a'
  assert.equal(order.isStale('a', mark), false);
  order.saw('a'); // the final event overtook the reply
  assert.equal(order.isStale('a', mark), true);
  assert.equal(order.isStale('b', mark), true);
  assert.equal(order.isStale('never-seen', mark), false);
  assert.equal(order.isStale('a', order.mark()), false, 'a request sent after the event is newer again');
});
