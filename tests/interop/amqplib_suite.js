// amqplib against Warren: publish/consume/ack, confirms, topic routing,
// basic.get, nack with requeue, transactions (via the raw channel), errors.
'use strict';
const amqp = require('amqplib');

const url = `amqp://guest:guest@127.0.0.1:${process.env.WARREN_PORT_UNDER_TEST}/`;
const failures = [];
const unique = (p) => `${p}-${Math.random().toString(16).slice(2, 10)}`;
const assert = (cond, msg) => { if (!cond) throw new Error(msg); };

async function publishConsumeAck() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const q = unique('node.work');
  await ch.assertQueue(q);
  await ch.prefetch(10);
  for (let i = 0; i < 50; i++) ch.sendToQueue(q, Buffer.from(`m${i}`));
  const got = [];
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`only ${got.length} deliveries`)), 30000);
    ch.consume(q, (msg) => {
      got.push(msg.content.toString());
      ch.ack(msg);
      if (got.length === 50) { clearTimeout(timer); resolve(); }
    });
  });
  assert(got.join(',') === Array.from({ length: 50 }, (_, i) => `m${i}`).join(','), `order: ${got}`);
  await conn.close();
}

async function confirms() {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const q = unique('node.confirm');
  await ch.assertQueue(q);
  for (let i = 0; i < 200; i++) ch.sendToQueue(q, Buffer.from('x'));
  await ch.waitForConfirms();
  const { messageCount } = await ch.checkQueue(q);
  assert(messageCount === 200, `count ${messageCount}`);
  await conn.close();
}

async function topicRouting() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const x = unique('node.topic');
  await ch.assertExchange(x, 'topic');
  const a = (await ch.assertQueue('', { exclusive: true })).queue;
  const b = (await ch.assertQueue('', { exclusive: true })).queue;
  assert(a.startsWith('amq.gen-'), a);
  await ch.bindQueue(a, x, 'quick.orange.*');
  await ch.bindQueue(b, x, 'lazy.#');
  for (const key of ['quick.orange.rabbit', 'lazy.orange.elephant', 'lazy', 'quick.brown.fox']) {
    ch.publish(x, key, Buffer.from(key));
  }
  await ch.checkQueue(a);
  assert((await ch.checkQueue(a)).messageCount === 1, 'a');
  assert((await ch.checkQueue(b)).messageCount === 2, 'b');
  await conn.close();
}

async function basicGetAndNack() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const q = unique('node.get');
  await ch.assertQueue(q);
  assert((await ch.get(q)) === false, 'empty get');
  ch.sendToQueue(q, Buffer.from('a'), { headers: { n: 1 }, correlationId: 'c1' });
  ch.sendToQueue(q, Buffer.from('b'));
  await ch.checkQueue(q);
  const m1 = await ch.get(q);
  assert(m1.content.toString() === 'a' && !m1.fields.redelivered, 'first get');
  assert(m1.fields.messageCount === 1, `count ${m1.fields.messageCount}`);
  assert(m1.properties.headers.n === 1 && m1.properties.correlationId === 'c1', 'properties');
  ch.nack(m1, false, true);
  const m2 = await ch.get(q);
  assert(m2.content.toString() === 'a' && m2.fields.redelivered, 'requeued to the front');
  ch.ack(m2);
  const m3 = await ch.get(q, { noAck: true });
  assert(m3.content.toString() === 'b', 'second');
  await conn.close();
}

async function transactions() {
  // amqplib has no tx API; its channel model sends the methods with rpc().
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const q = unique('node.tx');
  await ch.assertQueue(q);
  const defs = require('amqplib/lib/defs');
  await ch.rpc(defs.TxSelect, {}, defs.TxSelectOk);
  ch.sendToQueue(q, Buffer.from('1'));
  assert((await ch.checkQueue(q)).messageCount === 0, 'before commit');
  await ch.rpc(defs.TxCommit, {}, defs.TxCommitOk);
  assert((await ch.checkQueue(q)).messageCount === 1, 'after commit');
  ch.sendToQueue(q, Buffer.from('2'));
  await ch.rpc(defs.TxRollback, {}, defs.TxRollbackOk);
  assert((await ch.checkQueue(q)).messageCount === 1, 'after rollback');
  await conn.close();
}

async function channelError() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  ch.on('error', () => {});
  let code = null;
  try {
    await ch.checkQueue(unique('node.missing'));
  } catch (e) {
    code = e.code;
  }
  assert(code === 404, `code ${code}`);
  const ch2 = await conn.createChannel();
  await ch2.assertQueue(unique('node.after'));
  await conn.close();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function ttlAndDeadLetters() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const dead = unique('node.dead');
  await ch.assertQueue(dead);
  const q = unique('node.ttl');
  await ch.assertQueue(q, { messageTtl: 200, deadLetterExchange: '', deadLetterRoutingKey: dead });
  ch.sendToQueue(q, Buffer.from('expiring'), { expiration: '100' });
  await ch.checkQueue(q);
  await sleep(600);
  const m = await ch.get(dead, { noAck: true });
  assert(m && m.content.toString() === 'expiring', 'dead-lettered');
  const death = m.properties.headers['x-death'][0];
  assert(death.reason === 'expired' && death.queue === q, JSON.stringify(death));
  assert(death['original-expiration'] === '100', 'original-expiration');
  assert(m.properties.expiration === undefined, 'expiration removed');
  await conn.close();
}

async function priorities() {
  const conn = await amqp.connect(url);
  const ch = await conn.createChannel();
  const q = unique('node.prio');
  await ch.assertQueue(q, { maxPriority: 10 });
  for (const [body, priority] of [['low', 1], ['high', 9], ['mid', 5]]) {
    ch.sendToQueue(q, Buffer.from(body), { priority });
  }
  await ch.checkQueue(q);
  const order = [];
  for (let i = 0; i < 3; i++) order.push((await ch.get(q, { noAck: true })).content.toString());
  assert(order.join() === 'high,mid,low', order.join());
  await conn.close();
}

async function maxLengthRejectPublish() {
  const conn = await amqp.connect(url);
  const ch = await conn.createConfirmChannel();
  const q = unique('node.maxlen');
  await ch.assertQueue(q, { maxLength: 1, arguments: { 'x-overflow': 'reject-publish' } });
  const results = await Promise.all(['1', '2'].map((b) => new Promise((resolve) => {
    ch.sendToQueue(q, Buffer.from(b), {}, (err) => resolve(err ? 'nack' : 'ack'));
  })));
  assert(results.join() === 'ack,nack', results.join());
  await conn.close();
}

// AMQPS, with the test PKI run.sh made (target/debug/test-pki).
const fs = require('fs');
const path = require('path');
const pki = process.env.WARREN_PKI_UNDER_TEST;
const amqpsPort = process.env.WARREN_AMQPS_PORT_UNDER_TEST;
const tlsOptions = (client) => {
  const o = { ca: [fs.readFileSync(path.join(pki, 'ca.pem'))], servername: 'localhost' };
  if (client) {
    o.cert = fs.readFileSync(path.join(pki, `${client}.pem`));
    o.key = fs.readFileSync(path.join(pki, `${client}.key`));
  }
  return o;
};

async function tlsRoundTrip(conn) {
  const ch = await conn.createChannel();
  const q = unique('node.tls');
  await ch.assertQueue(q, { autoDelete: true });
  ch.sendToQueue(q, Buffer.from('over tls'));
  for (let i = 0; i < 50; i++) {
    const msg = await ch.get(q, { noAck: true });
    if (msg) {
      assert(msg.content.toString() === 'over tls', msg.content.toString());
      return;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('message not delivered over TLS');
}

async function amqpsWithPassword() {
  const conn = await amqp.connect(`amqps://guest:guest@127.0.0.1:${amqpsPort}/`, tlsOptions());
  await tlsRoundTrip(conn);
  await conn.close();
}

async function amqpsExternal() {
  const conn = await amqp.connect(
    `amqps://127.0.0.1:${amqpsPort}/`,
    { ...tlsOptions('guest'), credentials: amqp.credentials.external() },
  );
  await tlsRoundTrip(conn);
  await conn.close();
}

async function amqpsExpiredRefused() {
  let conn;
  try {
    conn = await amqp.connect(
      `amqps://127.0.0.1:${amqpsPort}/`,
      { ...tlsOptions('expired'), credentials: amqp.credentials.external() },
    );
  } catch (e) {
    return;
  }
  await conn.close();
  throw new Error('an expired certificate was accepted');
}

(async () => {
  const cases = {
    publishConsumeAck, confirms, topicRouting, basicGetAndNack, transactions, channelError,
    ttlAndDeadLetters, priorities, maxLengthRejectPublish,
  };
  if (pki && amqpsPort) Object.assign(cases, { amqpsWithPassword, amqpsExternal, amqpsExpiredRefused });
  for (const [name, fn] of Object.entries(cases)) {
    try {
      await fn();
      console.log(`ok   ${name}`);
    } catch (e) {
      failures.push(name);
      console.log(`FAIL ${name}: ${e.stack || e}`);
    }
  }
  if (failures.length) {
    console.log(`${failures.length} amqplib case(s) failed: ${failures}`);
    process.exit(1);
  }
  console.log('amqplib suite passed');
})();
