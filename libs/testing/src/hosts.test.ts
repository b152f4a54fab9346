import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from 'nats';
import { HostNetwork, canReach, hostsUnavailable, netemAvailable, removeStaleHosts } from './hosts';
import { NatsCluster } from './nats-cluster';
import { waitFor } from './ports';

const netnsNames = () => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
const linkNames = () => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });

describe(
  'multi-host harness: network namespaces on a bridge, with a 3-node NATS cluster',
  { skip: hostsUnavailable() },
  () => {
    let net: HostNetwork;
    let cluster: NatsCluster;
    let nc: NatsConnection | undefined;

    before(async () => {
      net = HostNetwork.create(3);
      cluster = await NatsCluster.start(net.hosts);
    });
    after(async () => {
      await nc?.close().catch(() => undefined);
      await cluster?.dispose();
      await net?.dispose();
    });

    it('gives each host its own address on one private /24, reachable from the test and from each other', async () => {
      const addresses = net.hosts.map((h) => h.address);
      assert.equal(new Set(addresses).size, 3);
      const prefix = net.gateway.replace(/\.1$/, '.');
      for (const a of addresses) assert.ok(a.startsWith(prefix), `${a} in ${prefix}0/24`);
      for (const n of cluster.nodes) assert.ok(await canReach(n.host.address, 4222), `${n.url} reachable`);
      // Host 0 reaches host 1's server from inside its own namespace.
      const [h0, h1] = net.hosts;
      const probe = await h0.run(process.execPath, [
        '-e',
        `require('net').connect(4222, '${h1.address}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`,
      ]);
      const code = await new Promise<number | null>((r) => probe.child.once('exit', (c) => r(c)));
      assert.equal(code, 0, `host 0 reached host 1: ${probe.output()}`);
    });

    it('forms one JetStream cluster with a meta leader, and keeps an R3 bucket through the loss of the leader host', async () => {
      const leader = await cluster.waitForMetaLeader();
      nc = await connect({ servers: cluster.servers, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
      const kv = await nc.jetstream().views.kv('harness-probe', { replicas: 3, history: 1 });
      await kv.put('k', 'before');
      const info = await (await nc.jetstreamManager()).streams.info('KV_harness-probe');
      assert.equal(info.config.num_replicas, 3);
      const streamLeader = info.cluster?.leader;
      assert.ok(streamLeader, 'the bucket has a leader');
      const victim = cluster.node(streamLeader);
      await victim.host.killAll();
      assert.equal(victim.running(), false);
      const t0 = Date.now();
      await waitFor(
        async () => {
          await kv.put('k', 'after');
          return true;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'a write after the bucket leader host died' },
      );
      const recovered = Date.now() - t0;
      assert.equal((await kv.get('k'))?.string(), 'after');
      // The surviving nodes may still name the dead one for a moment after the write: wait for the election.
      const newMeta = await waitFor(
        async () => {
          const m = await cluster.waitForMetaLeader();
          return m.name !== victim.name ? m : undefined;
        },
        { timeoutMs: 30_000, intervalMs: 200, what: 'a meta leader other than the killed node' },
      );
      assert.notEqual(newMeta.name, victim.name);
      console.log(
        `harness: meta leader was ${leader.name}, bucket leader ${victim.name} killed; writes again after ${recovered} ms`,
      );
      await cluster.restart(victim.name);
      await waitFor(async () => (await cluster.jsz(victim))?.meta_cluster?.leader, {
        timeoutMs: 30_000,
        what: 'the restarted node back in the cluster',
      });
    });

    it('cuts a host off the network and heals it', async () => {
      const h = net.hosts[2];
      h.cut();
      assert.equal(await canReach(h.address, 4222), false, 'cut off');
      assert.ok(cluster.nodes[2].running(), 'its server runs on, unreachable');
      h.heal();
      await waitFor(() => canReach(h.address, 4222), { timeoutMs: 5000, what: 'healed host reachable' });
    });

    it('adds latency with tc netem when the kernel has it', (t) => {
      if (!netemAvailable()) {
        t.skip('tc netem is not available on this kernel (no sch_netem module)');
        return;
      }
      const h = net.hosts[1];
      h.impair({ delayMs: 50 });
      const started = Date.now();
      execFileSync('ip', ['netns', 'exec', net.hosts[0].ns, 'ping', '-c', '1', '-W', '2', h.address]);
      h.clearImpairment();
      assert.ok(Date.now() - started >= 50);
    });

    it('kills every process of a host, and dispose leaves no namespace or link behind', async () => {
      const h = net.hosts[0];
      await h.killAll();
      assert.equal(await canReach(h.address, 4222), false);
      const other = HostNetwork.create(1);
      const ns = other.hosts[0].ns;
      await other.hosts[0].run('sleep', ['60']);
      assert.ok(netnsNames().includes(ns));
      await other.dispose();
      assert.ok(!netnsNames().includes(ns), 'namespace removed');
      assert.ok(!linkNames().includes(`${ns.replace(/h0$/, 'v0')}`), 'veth removed');
    });

    it('removes what a killed run left behind (names carry a pid that no longer runs)', () => {
      // The highest pid Linux hands out by default range; a test process is never this one.
      const dead = 4194303;
      assert.throws(() => process.kill(dead, 0));
      const ns = `tg${dead}ah0`;
      execFileSync('ip', ['netns', 'add', ns]);
      execFileSync('ip', ['link', 'add', `tg${dead}abr`, 'type', 'bridge']);
      removeStaleHosts();
      assert.ok(!netnsNames().includes(ns), 'stale namespace removed');
      assert.ok(!linkNames().includes(`tg${dead}abr`), 'stale bridge removed');
    });
  },
);
