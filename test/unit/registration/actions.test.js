'use strict';
const { lib } = require('../../support/paths');
/**
 * The registration actions' inputs: fieldsFrom "flow" (the union of the telemetry-in filters
 * on the broker), the usage action on a real broker, and bad input — an unknown action, a
 * malformed VIN list, a missing broker — refused with an error naming it before any call.
 */
const assert = require('node:assert/strict');
const { runRegistrationAction, registrationActionOf, registrationStatus } = lib('registration/actions');
const { applyFieldsFrom, fieldsFromFlow, parseDefaultInterval } = lib('registration/fields-from-flow');
const { runAction } = lib('registration/controller');
const { EnsureCap } = lib('registration/ensure');
const { signalsToUsd } = lib('stream/usage');
const { setup, V, nodeProps, ours } = require('./fixture');

const tin = (id, fields, extra = {}) => ({ id, type: 'telemetry-in', z: 'tab1', broker: 'b1', fields, ...extra });

describe('fieldsFromFlow', function () {
  it('is the union of the telemetry-in filters on the broker, in first-named order, at defaultInterval unless the table names the field', function () {
    const nodes = [
      { id: 'tab1', type: 'tab' },
      tin('in1', 'BatteryLevel, ChargeLimitSoc'),
      tin('in2', 'ChargeLimitSoc,Location , Gear'),
      tin('in3', 'VehicleSpeed', { broker: 'b2' }), // another broker
      tin('in4', '', { d: true }), // disabled: not deployed
      { id: 'vd1', type: 'vehicle-data', broker: 'b1', fields: '' },
    ];
    const table = { Location: { interval_seconds: 30, minimum_delta: 0.001 }, Odometer: { interval_seconds: 600 } };
    assert.deepEqual(fieldsFromFlow(nodes, 'b1', 120, table), {
      BatteryLevel: { interval_seconds: 120 },
      ChargeLimitSoc: { interval_seconds: 120 },
      Location: { interval_seconds: 30, minimum_delta: 0.001 },
      Gear: { interval_seconds: 120 },
    });
    // The table as the editor's rows.
    assert.deepEqual(fieldsFromFlow(nodes, 'b1', undefined, [{ name: 'Gear', interval_seconds: 5 }]).Gear, { interval_seconds: 5 });
    assert.deepEqual(fieldsFromFlow(nodes, 'b1', undefined).BatteryLevel, { interval_seconds: 60 }, 'default 60 s');
  });

  it('is an error naming a telemetry-in on the broker without a field filter (name, or id)', function () {
    const nodes = [tin('in1', 'BatteryLevel'), tin('in2', '', { name: 'Everything' }), tin('in3', '  ')];
    assert.throws(
      () => fieldsFromFlow(nodes, 'b1', 60),
      (e) => e.name === 'FieldsFromFlowError' && /telemetry-in "Everything" \(in2\) has no field filter/.test(e.message),
    );
    assert.throws(() => fieldsFromFlow([tin('in3', ' , ')], 'b1', 60), /telemetry-in in3 has no field filter/);
    assert.throws(() => fieldsFromFlow([tin('in1', 'Gear')], 'other', 60), /no deployed telemetry-in node uses broker other/);
    assert.throws(() => parseDefaultInterval('1.5'), /defaultInterval must be an integer number of seconds >= 1 \(got "1.5"\)/);
    assert.throws(() => parseDefaultInterval(0), /defaultInterval/);
    assert.equal(parseDefaultInterval('30'), 30);
  });
});

describe('applyFieldsFrom', function () {
  const props = { hostname: 'h.example.com', fields: { Gear: { interval_seconds: 5 } } };
  it('leaves the settings alone for "node" (the default), derives them for "flow": nodes on a disabled tab are not deployed', function () {
    assert.equal(applyFieldsFrom(props, {}), props);
    assert.equal(applyFieldsFrom(props, { fieldsFrom: ' node ' }), props);
    const nodes = [
      { id: 'tab1', type: 'tab' },
      { id: 'tab2', type: 'tab', disabled: true },
      tin('in1', 'Gear,Soc'),
      tin('in2', 'Odometer', { z: 'tab2' }),
    ];
    const out = applyFieldsFrom(props, { fieldsFrom: 'flow', defaultInterval: 90, flow: { nodes, brokerId: 'b1' } });
    assert.deepEqual(out, { hostname: 'h.example.com', fields: { Gear: { interval_seconds: 5 }, Soc: { interval_seconds: 90 } } });
  });

  it('names what is wrong: the fieldsFrom value, a missing broker', function () {
    assert.throws(() => applyFieldsFrom(props, { fieldsFrom: 'Flow' }), /fieldsFrom must be "node" or "flow" \(got "Flow"\)/);
    assert.throws(() => applyFieldsFrom(props, { fieldsFrom: 'flow', flow: null }), /fieldsFrom "flow" needs a broker/);
  });
});

describe('registration actions: inputs (HTTPS double, aedes broker)', function () {
  let f;

  beforeEach(async function () {
    f = await setup();
  });
  afterEach(async function () {
    await f.close();
  });

  const run = (props, msg = {}, ctx = {}) => runRegistrationAction(f.ctx(ctx), nodeProps(props), msg);
  const posts = () => f.d.callsTo(/\/proxy\/api\/1\/vehicles\/fleet_telemetry_config$/, 'POST');

  it('ensure with fieldsFrom "flow" pushes the union of the flow\'s fields', async function () {
    const flow = { brokerId: 'b1', nodes: [tin('in1', 'BatteryLevel,Gear'), tin('in2', 'Location')] };
    const props = { action: 'ensure', fieldsFrom: 'flow', defaultInterval: 30, fields: { Location: { interval_seconds: 10 } } };
    const result = await run(props, { vins: [V.none] }, { flow, cap: new EnsureCap(null) });
    assert.equal(result.payload[0].pushed, true);
    assert.deepEqual(posts()[0].body.config.fields, {
      BatteryLevel: { interval_seconds: 30 },
      Gear: { interval_seconds: 30 },
      Location: { interval_seconds: 10 },
    });
  });

  it("register sends, and status compares, the flow's fields; runAction refuses the actions it does not run", async function () {
    const flow = { brokerId: 'b1', nodes: [tin('in1', 'BatteryLevel,Gear')] };
    const props = nodeProps({ fieldsFrom: 'flow', defaultInterval: 30, action: 'register', fields: { Gear: { interval_seconds: 5 } } });
    await runAction(f.client, props, { vins: [V.none] }, { flow });
    assert.deepEqual(posts()[0].body.config.fields, { BatteryLevel: { interval_seconds: 30 }, Gear: { interval_seconds: 5 } });
    f.d.setVehicle(V.none, { telemetry: { synced: true } });
    const status = await runAction(f.client, { ...props, action: 'status' }, { vins: [V.none] }, { flow });
    assert.deepEqual(
      status.payload.map((e) => [e.state, e.reason]),
      [['adopted', "the car runs this node's config"]],
    );
    // A derivation that fails: register is refused, status reads the car without comparing and says why.
    const broken = { brokerId: 'b1', nodes: [tin('in1', '')] };
    await assert.rejects(
      runAction(f.client, props, { vins: [V.none] }, { flow: broken }),
      /telemetry-config register: fieldsFrom "flow": telemetry-in in1 has no field filter/,
    );
    const uncompared = await runAction(f.client, { ...props, action: 'status' }, { vins: [V.none] }, { flow: broken });
    assert.match(uncompared.payload[0].reason, /not compared/);
    assert.match(uncompared.warnings[0], /^fields: fieldsFrom "flow": telemetry-in in1 has no field filter/);
    await assert.rejects(runAction(f.client, { ...props, action: 'doctor' }, {}), /telemetry-config doctor: not a config action/);
    assert.equal(posts().length, 1);
  });

  it('fieldsFrom "flow" errors name the node, and nothing is sent', async function () {
    const flow = { brokerId: 'b1', nodes: [tin('in1', 'BatteryLevel'), tin('in9', '', { name: 'All of it' })] };
    await assert.rejects(
      run({ action: 'ensure', fieldsFrom: 'flow' }, { vins: [V.none] }, { flow }),
      (e) =>
        e.name === 'ValidationError' &&
        /telemetry-config ensure: fieldsFrom "flow": telemetry-in "All of it" \(in9\) has no field filter/.test(e.message),
    );
    await assert.rejects(run({ action: 'doctor', fieldsFrom: 'flow' }, { vins: [V.none] }, { flow: null }), /needs a broker/);
    await assert.rejects(run({ action: 'doctor', fieldsFrom: 'flows' }, { vins: [V.none] }), /fieldsFrom must be "node" or "flow" \(got "flows"\)/);
    assert.equal(f.d.calls.length, 0);
  });

  it('refuses bad input with an error naming it, before any call', async function () {
    const cases = [
      [
        { action: 'doctor' },
        { action: 'docter', vins: [V.none] },
        /unknown action "docter": use one of check, register, status, errors, delete, doctor, ensure, usage/,
      ],
      [{ action: 'status' }, { vins: [V.none] }, /action "status" is not one of doctor, ensure, usage/], // the other runner's
      [{ action: 'doctor' }, { vins: 42 }, /msg\.vins must be an array of VINs or a comma list \(got number\)/],
      [
        { action: 'doctor' },
        { vins: [V.none, { vin: V.drift }] },
        /msg\.vins must be an array of VINs or a comma list \(got an array with a non-string item\)/,
      ],
      [{ action: 'doctor' }, { vins: `${V.none},5YJ3E1EA7KF00000` }, /VIN "5YJ3E1EA7KF00000" is malformed/],
      [{ action: 'doctor' }, { vins: ['5YJ3E1EA7KF00000O'] }, /VIN "5YJ3E1EA7KF00000O" is malformed/],
      [{ action: 'doctor', vins: '' }, {}, /at least one VIN is needed/],
      [{ action: 'doctor' }, { vins: [V.none], config: 'hostname=x' }, /msg\.config must be an object/],
      [{ action: 'doctor', dailyBudget: -1 }, { vins: [V.none] }, /dailyBudget must be a whole number/],
      [{ action: 'usage' }, {}, /telemetry-config usage: needs a broker — choose a telemetry-broker in the node's "broker" property/],
    ];
    for (const [props, msg, re] of cases) {
      const ctx = props.action === 'usage' ? { usage: null } : {};
      await assert.rejects(run(props, msg, ctx), (e) => e.name === 'ValidationError' && re.test(e.message), `${JSON.stringify(msg)} → ${re}`);
    }
    await assert.rejects(run({ action: 'doctor' }, { vins: [V.none] }, { client: null }), /needs a usable tesla-account/);
    assert.equal(f.d.calls.length, 0, 'no HTTP call for bad input');
    assert.equal(registrationActionOf('doctor', ' Ensure '), 'ensure');
  });

  it("usage: the broker's counts for the node's VINs (every VIN when none), no HTTP call", async function () {
    await f.publish(`telemetry/${V.healthy}/v/BatteryLevel`, 80);
    await f.publish(`telemetry/${V.healthy}/v/Gear`, 'ShiftStateP');
    await f.publish(`telemetry/${V.silent}/v/BatteryLevel`, 60);
    const all = await run({ action: 'usage' });
    assert.equal(all.action, 'usage');
    assert.deepEqual(all.payload, f.conn.usage.report());
    assert.deepEqual(Object.keys(all.payload.vins), [V.silent, V.healthy]);
    assert.equal(all.payload.total.signals, 3);
    assert.equal(all.summary, `3 signals today ≈ $${signalsToUsd(3).toFixed(4)} (2 VINs)`);
    assert.deepEqual(registrationStatus(all), { fill: 'green', shape: 'dot', text: all.summary });
    const one = await run({ action: 'usage', vins: V.healthy });
    assert.deepEqual(one.payload.vins, { [V.healthy]: { signals: 2, usd: signalsToUsd(2), fields: { BatteryLevel: 1, Gear: 1 } } });
    const viaMsg = await run({ action: 'doctor' }, { action: 'usage', vins: [V.silent] });
    assert.deepEqual(Object.keys(viaMsg.payload.vins), [V.silent]);
    assert.equal(f.d.calls.length, 0);
  });

  it("doctor compares with msg.config merged into the node's settings", async function () {
    const drift = await run({ action: 'doctor' }, { vins: [V.drift] }, { stream: null });
    assert.equal(drift.payload[0].state, 'drift');
    const result = await run({ action: 'doctor' }, { vins: [V.drift], config: { port: 4443 } }, { stream: null });
    assert.equal(result.payload[0].state, 'healthy', 'the car runs port 4443, which msg.config asks for');
    assert.deepEqual(ours({ port: 4443 }), result.response.vins[V.drift].fleet_telemetry_config.response.config);
  });
});
