import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureTopic } from '@herald/core';
import { waitFor } from '@herald/testing';
import { type ServiceHost, openLogAndStores, startServices } from '@herald/service';
import { greeter, signUp } from './fixtures/greeter.ts';
import { tempLog } from './fixtures/temp-log.ts';

async function startWithHealth(logUrl: string): Promise<ServiceHost> {
  const resources = await openLogAndStores({ logUrl, env: {}, services: ['greeter'] });
  await ensureTopic(resources.log, 'users', { partitions: 1 });
  return startServices({ services: [greeter()], resources, health: { port: 0 } });
}

async function get(url: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(url);
  return {
    status: response.status,
    type: response.headers.get('content-type') ?? '',
    body: await response.text(),
  };
}

describe('the health server of a process that runs services (real HTTP)', () => {
  it('answers /healthz, and /readyz with every service running and the log reachable', async () => {
    using folder = tempLog();
    await using host = await startWithHealth(folder.logUrl);
    const base = host.health!.url;
    assert.deepEqual(await get(`${base}/healthz`), {
      status: 200,
      type: 'application/json; charset=utf-8',
      body: '{"status":"ok"}',
    });
    const ready = await get(`${base}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(JSON.parse(ready.body), { status: 'ready', detail: 'greeter: running' });
    assert.equal((await get(`${base}/nowhere`)).status, 404);
  });

  it('serves the routers metrics and consumer lag on /metrics in the Prometheus text format', async () => {
    using folder = tempLog();
    await using host = await startWithHealth(folder.logUrl);
    await host.log.append('users', signUp('ada'));
    await waitFor(
      async () =>
        /herald_events_processed_total\{[^}]*group="greeter.welcome"[^}]*\} 1/.test(
          (await get(`${host.health!.url}/metrics`)).body,
        ),
      10_000,
      'one handled event in the metrics',
    );
    const metrics = await get(`${host.health!.url}/metrics`);
    assert.equal(metrics.status, 200);
    assert.match(metrics.type, /^text\/plain/);
    assert.match(metrics.body, /herald_consumer_lag/);
    // The runtime's metrics too, in the registry the kit made.
    assert.match(metrics.body, /^process_cpu_seconds_total /m);
    assert.match(metrics.body, /^nodejs_eventloop_lag_seconds /m);
  });

  it('turns /readyz to 503 when a service stops and when the log is closed', async () => {
    using folder = tempLog();
    await using host = await startWithHealth(folder.logUrl);
    const base = host.health!.url;
    await host.supervisors[0]!.stop();
    const stopped = await get(`${base}/readyz`);
    assert.equal(stopped.status, 503);
    assert.deepEqual(JSON.parse(stopped.body), { status: 'unavailable', detail: 'greeter: stopped' });

    await using other = await startWithHealth(folder.logUrl);
    await other.log.close();
    const unreachable = await get(`${other.health!.url}/readyz`);
    assert.equal(unreachable.status, 503);
    assert.match((JSON.parse(unreachable.body) as { detail: string }).detail, /^log unreachable: /);
  });

  it('stops listening once the host has stopped', async () => {
    using folder = tempLog();
    const host = await startWithHealth(folder.logUrl);
    const base = host.health!.url;
    assert.equal((await get(`${base}/healthz`)).status, 200);
    await host.stop();
    await assert.rejects(fetch(`${base}/healthz`), TypeError);
  });
});
