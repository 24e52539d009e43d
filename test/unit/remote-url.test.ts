import {test} from 'node:test';
import assert from 'node:assert/strict';
import {checkRemoteBaseUrl} from '../../main/common/remote-url.js';
import {methods} from '../../main/common/contract.js';

test('remote base URLs: http(s) only, no credentials, query or fragment; stored without a trailing slash', () => {
  assert.deepEqual(checkRemoteBaseUrl('http://10.0.0.5:8000/v1/'), {ok: true, url: 'http://10.0.0.5:8000/v1'});
  assert.deepEqual(checkRemoteBaseUrl(' https://llm.hospital.example/api/v1 '), {ok: true, url: 'https://llm.hospital.example/api/v1'});
  assert.deepEqual(checkRemoteBaseUrl('http://localhost:8080'), {ok: true, url: 'http://localhost:8080'});
  for (const bad of ['ftp://10.0.0.5/v1', 'file:///etc/passwd', 'javascript:alert(1)', 'localhost:8080/v1', '', 'http://user:pw@10.0.0.5/v1', 'http://10.0.0.5/v1?key=1', 'http://10.0.0.5/v1#x']) {
    const checked = checkRemoteBaseUrl(bad);
    assert.equal(checked.ok, false, bad);
    if (!checked.ok) assert.ok(checked.reason.zh && checked.reason.en);
  }
  const schema = methods['remotes.add'].input;
  assert.equal(schema.safeParse({name: 'a', baseUrl: 'ftp://x/v1', model: 'm'}).success, false);
  const parsed = schema.parse({name: 'a', baseUrl: 'http://x:1/v1/', model: 'm', apiKey: 'k'});
  assert.equal(parsed.baseUrl, 'http://x:1/v1');
});
