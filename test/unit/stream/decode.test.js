'use strict';
// Field numbers: a server older than the car's firmware publishes a newer field as its number
// (`v/258`). Field ids are stable, so the decoder names it from the catalogue, normalises it as
// that field, and keeps the number as `fieldId`; a number the catalogue lacks stays as it came.
const assert = require('node:assert/strict');
const { lib } = require('../../support/paths');
const { recordingSink } = require('../../support/sink');
const { TopicParser, decode, isBad } = lib('stream/decode');
const { messageFromDecoded } = lib('common/messages');
const { FIELDS_BY_ID } = lib('catalogue');
const { BrokerConnection } = lib('stream/broker-connection');
const { TelemetryInController } = lib('stream/controller');

const parser = new TopicParser('telemetry');
const at = 1_700_000_000_000;
const dec = (topic, payload, retain = false) => decode(parser, topic, payload, retain, at);

describe('decode: field numbers', function () {
  it('names a field number the catalogue knows, normalises it as that field and keeps the number', function () {
    assert.equal(FIELDS_BY_ID.get(258).name, 'MilesSinceReset');
    const d = dec('telemetry/VIN1/v/258', '"1234.5"'); // a legacy string: kind number makes it a number
    assert.equal(isBad(d), false);
    assert.equal(d.kind, 'data');
    assert.equal(d.name, 'MilesSinceReset');
    assert.equal(d.fieldId, 258);
    assert.equal(d.payload, 1234.5);
    assert.equal(d.raw, '1234.5');
    assert.equal(d.live, true);

    const e = dec('telemetry/VIN1/v/179', '"DetailedChargeStateCharging"');
    assert.deepEqual([e.name, e.fieldId, e.payload], ['DetailedChargeState', 179, 'Charging'], 'the enum rule of that field applies');
    const z = dec('telemetry/VIN1/v/0', '{}');
    assert.deepEqual([z.name, z.fieldId], [FIELDS_BY_ID.get(0).name, 0]);
  });

  it('leaves a number the catalogue lacks, and anything not written as the server writes numbers, as it came', function () {
    const unknown = dec('telemetry/VIN1/v/261', '{}');
    assert.equal(unknown.name, '261');
    assert.equal('fieldId' in unknown, false);
    assert.deepEqual(unknown.payload, {}, 'kind unknown: {} stays');
    for (const field of ['0258', '258.0', '258x', '2580', '1e2']) {
      const d = dec(`telemetry/VIN1/v/${field}`, '1');
      assert.deepEqual([d.name, 'fieldId' in d], [field, false], field);
    }
    const named = dec('telemetry/VIN1/v/BatteryLevel', '50');
    assert.deepEqual([named.name, 'fieldId' in named], ['BatteryLevel', false]);
  });

  it('maps only vehicle data: alert and error names made of digits stay names', function () {
    assert.equal(dec('telemetry/VIN1/alerts/258/current', '{}').name, '258');
    assert.equal(dec('telemetry/VIN1/errors/258', '{}').name, '258');
    assert.equal('fieldId' in dec('telemetry/VIN1/errors/258', '{}'), false);
  });

  it('bad input on a field number names the field too', function () {
    const b = dec('telemetry/VIN1/v/258', '{not json');
    assert.equal(isBad(b), true);
    assert.deepEqual(b.info, { vin: 'VIN1', kind: 'data', name: 'MilesSinceReset', fieldId: 258 });
  });

  it('the message carries the catalogue name in field and topic, and msg.fieldId', function () {
    const msg = messageFromDecoded(dec('telemetry/VIN1/v/258', '12'));
    assert.equal(msg.field, 'MilesSinceReset');
    assert.equal(msg.topic, 'VIN1/MilesSinceReset');
    assert.equal(msg.fieldId, 258);
    assert.equal(msg.payload, 12);
    assert.equal('fieldId' in messageFromDecoded(dec('telemetry/VIN1/v/Soc', '12')), false);
    assert.equal('fieldId' in messageFromDecoded(dec('telemetry/VIN1/v/261', '12')), false);
  });

  it('a field filter matches the catalogue name, or the number the field was published as', async function () {
    const conn = new BrokerConnection({ url: 'test://injected', topicBase: 'telemetry' });
    const run = (fields) => {
      const sink = recordingSink();
      const sent = [];
      sink.send = (out) => out[0] && sent.push(out[0]);
      const ctl = new TelemetryInController(conn, { vins: [], fields, mode: 'field', staleAfterMs: 0, retained: 'flag', quietMs: 0 }, sink);
      ctl.start();
      return { ctl, sent };
    };
    const byName = run(['MilesSinceReset']);
    const byNumber = run(['258']);
    const other = run(['Soc']);
    conn.inject('telemetry/VIN1/v/258', '7');
    conn.inject('telemetry/VIN1/v/MilesSinceReset', '8');
    for (const r of [byName, byNumber, other]) await r.ctl.stop();
    await conn.close();
    assert.deepEqual(
      byName.sent.map((m) => [m.field, m.payload, m.fieldId]),
      [
        ['MilesSinceReset', 7, 258],
        ['MilesSinceReset', 8, undefined],
      ],
    );
    assert.deepEqual(
      byNumber.sent.map((m) => [m.field, m.payload]),
      [['MilesSinceReset', 7]],
    );
    assert.deepEqual(other.sent, []);
  });
});
