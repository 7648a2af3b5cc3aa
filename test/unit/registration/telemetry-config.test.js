'use strict';
const { lib } = require('../../support/paths');
/**
 * Unit tests of the registration core (src/lib/registration/, compiled to nodes/dist/lib/).
 * The editor holds no copy of it: its preview and checks are the admin endpoint's answers
 * (test/nodes/admin.test.js).
 */
const assert = require('node:assert/strict');
const { makeCA, makeCert } = require('../../support/certs');

const tc = lib('registration');
const { FIELDS } = lib('catalogue');

const VIN1 = '5YJ3E1EA7KF000001';
const VIN2 = '5YJ3E1EA7KF000002';
const VIN3 = '5YJ3E1EA7KF000003';
const DAY = 24 * 3600 * 1000;

// ---------------------------------------------------------------------------------------
// Certificates: made by openssl through the one test helper.

const certs = {};

before(function () {
  this.timeout(30000);
  const ca = makeCA({ commonName: 'Telemetry Test CA', days: 365 });
  const ca2 = makeCA({ commonName: 'Other CA', days: 365 });
  const old = makeCA({ commonName: 'old.example.com', notBefore: Date.now() - 10 * DAY, notAfter: Date.now() - DAY });
  // A leaf (not a CA) for another host.
  const leaf = makeCert({ ca, commonName: 'other.example.com', altNames: ['other.example.com'] });
  Object.assign(certs, { ca: ca.cert, ca2: ca2.cert, expired: old.cert, leaf: leaf.cert, key: ca.key });
});

function goodProps(extra = {}) {
  return {
    hostname: 'telemetry.example.com',
    port: 4433,
    ca: certs.ca,
    fields: tc.presetFields('seed'),
    alertTypes: '',
    preferTyped: true,
    vins: `${VIN1}, ${VIN2}`,
    ...extra,
  };
}

function inputs(problems) {
  return problems.map((p) => p.input);
}

function errorFor(result, input) {
  return result.errors.find((e) => e.input === input);
}

// ---------------------------------------------------------------------------------------

describe('telemetry-config lib', function () {
  describe('PRESETS', function () {
    it('seed is the seven fields of the seed, in order, every 60 s', function () {
      assert.deepEqual(Object.keys(tc.PRESETS.seed.fields), [
        'BatteryLevel',
        'ChargeLimitSoc',
        'DetailedChargeState',
        'Gear',
        'VehicleName',
        'Location',
        'TimeToFullCharge',
      ]);
      for (const s of Object.values(tc.PRESETS.seed.fields)) assert.deepEqual(s, { interval_seconds: 60 });
    });

    it('charging-presence is a larger charging and presence set', function () {
      const names = Object.keys(tc.PRESETS['charging-presence'].fields);
      assert.ok(names.length > 20, `only ${names.length} fields`);
      for (const n of [
        'DetailedChargeState',
        'ChargeAmps',
        'ACChargingPower',
        'DCChargingPower',
        'ChargerVoltage',
        'ChargePortDoorOpen',
        'ChargePortLatch',
        'EstBatteryRange',
        'TimeToFullCharge',
        'Soc',
        'BatteryLevel',
        'ChargeLimitSoc',
        'Location',
        'Gear',
        'VehicleSpeed',
        'Locked',
        'SentryMode',
        'DoorState',
        'InsideTemp',
        'OutsideTemp',
        'Odometer',
        'VehicleName',
      ]) {
        assert.ok(names.includes(n), `${n} missing`);
      }
    });

    it('every preset field is in the catalogue, with an integer interval >= 1, and validates', function () {
      for (const [name, preset] of Object.entries(tc.PRESETS)) {
        assert.equal(typeof preset.label, 'string');
        for (const [field, s] of Object.entries(preset.fields)) {
          assert.ok(FIELDS.has(field), `${name}: ${field} not in the catalogue`);
          assert.ok(Number.isInteger(s.interval_seconds) && s.interval_seconds >= 1, `${name}: ${field}`);
        }
        const r = tc.validate(goodProps({ fields: tc.presetFields(name) }));
        assert.deepEqual(r.errors, [], `${name}: ${JSON.stringify(r.errors)}`);
        assert.deepEqual(r.warnings, [], `${name}: ${JSON.stringify(r.warnings)}`);
      }
    });

    it('is frozen; presetFields hands out independent copies', function () {
      assert.ok(Object.isFrozen(tc.PRESETS.seed.fields.BatteryLevel));
      const a = tc.presetFields('seed');
      a.BatteryLevel.interval_seconds = 5;
      assert.equal(tc.presetFields('seed').BatteryLevel.interval_seconds, 60);
      assert.equal(tc.PRESETS.seed.fields.BatteryLevel.interval_seconds, 60);
      assert.throws(() => tc.presetFields('nope'), /unknown preset/);
    });
  });

  describe('parseVins', function () {
    it('takes a comma list: trimmed, blanks and repeats dropped', function () {
      assert.deepEqual(tc.parseVins(` ${VIN1} ,${VIN2},, ${VIN1} ,`), [VIN1, VIN2]);
    });
    it('takes an array', function () {
      assert.deepEqual(tc.parseVins([VIN2, ` ${VIN1}`, '', VIN2, null]), [VIN2, VIN1]);
    });
    it('gives [] for nothing', function () {
      assert.deepEqual(tc.parseVins(undefined), []);
      assert.deepEqual(tc.parseVins(''), []);
      assert.deepEqual(tc.parseVins(' , '), []);
      assert.deepEqual(tc.parseVins([]), []);
    });
  });

  describe('validate', function () {
    it('accepts good settings without errors or warnings', function () {
      assert.deepEqual(tc.validate(goodProps()), { errors: [], warnings: [] });
    });

    describe('hostname', function () {
      for (const [value, pattern] of [
        ['', /required/],
        [undefined, /required/],
        ['https://telemetry.example.com', /scheme/],
        ['mqtt://telemetry.example.com:4433', /scheme/],
        ['telemetry.example.com:4433', /port/],
        ['telemetry.example.com/path', /path/],
        ['tele metry.example.com', /spaces/],
        ['under_score.example.com', /not a valid host name/],
        ['-bad.example.com', /not a valid host name/],
      ]) {
        it(`refuses ${JSON.stringify(value)}`, function () {
          const r = tc.validate(goodProps({ hostname: value }));
          const e = errorFor(r, 'hostname');
          assert.ok(e, JSON.stringify(r.errors));
          assert.match(e.message, pattern);
          assert.deepEqual(inputs(r.errors), ['hostname']);
        });
      }
      it('accepts a name, a trailing dot, an IPv4 address', function () {
        for (const h of ['fleet.example.com', 'fleet.example.com.', '192.168.1.20', 'a-b.c-d.example']) {
          assert.deepEqual(tc.validate(goodProps({ hostname: h })).errors, [], h);
        }
      });
      it('warns for localhost', function () {
        const r = tc.validate(goodProps({ hostname: 'localhost' }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['hostname']);
      });
    });

    describe('port', function () {
      for (const bad of ['4433abc', 4433.5, '4433.5', 0, 65536, -1, '', undefined, 'abc', NaN, true]) {
        it(`refuses ${String(bad)} (${typeof bad})`, function () {
          const r = tc.validate(goodProps({ port: bad }));
          assert.deepEqual(inputs(r.errors), ['port']);
        });
      }
      it('accepts 1, 65535, 4433 and the numeric string "4433"', function () {
        for (const ok of [1, 65535, 4433, '4433', ' 443 ']) {
          assert.deepEqual(tc.validate(goodProps({ port: ok })).errors, [], String(ok));
        }
        assert.equal(tc.parsePort('4433'), 4433);
        assert.equal(tc.parsePort('4433abc'), null);
      });
    });

    describe('ca', function () {
      it('is required', function () {
        const r = tc.validate(goodProps({ ca: '' }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /required/);
      });
      it('must be a PEM certificate', function () {
        const r = tc.validate(goodProps({ ca: 'hello' }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /BEGIN CERTIFICATE/);
      });
      it('says so when a private key was pasted', function () {
        const r = tc.validate(goodProps({ ca: certs.key }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /private key/);
      });
      it('refuses a certificate that does not parse', function () {
        const broken = '-----BEGIN CERTIFICATE-----\nTUlJQm9vb29vbw==\n-----END CERTIFICATE-----\n';
        const r = tc.validate(goodProps({ ca: broken }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /does not parse/);
      });
      it('refuses a PEM with \\n escapes instead of line breaks', function () {
        const r = tc.validate(goodProps({ ca: certs.ca.trim().replace(/\n/g, '\\n') }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /escapes/);
      });
      it('refuses an expired certificate, naming its subject and expiry', function () {
        const r = tc.validate(goodProps({ ca: certs.expired }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        const info = tc.describeCa(certs.expired);
        assert.match(r.errors[0].message, /old\.example\.com/);
        assert.match(r.errors[0].message, /expired/);
        assert.ok(r.errors[0].message.includes(info.validTo), r.errors[0].message);
      });
      it('judges expiry against options.now', function () {
        const later = Date.now() + 400 * DAY;
        const r = tc.validate(goodProps(), { now: later });
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /Telemetry Test CA.*expired/);
      });
      it('checks every certificate of a bundle', function () {
        const r = tc.validate(goodProps({ ca: certs.ca + certs.expired }));
        assert.deepEqual(inputs(r.errors), ['ca']);
        assert.match(r.errors[0].message, /certificate 2 of 2/);
      });
      it('warns for a leaf certificate that does not name the hostname', function () {
        const r = tc.validate(goodProps({ ca: certs.leaf }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['ca']);
        assert.match(r.warnings[0].message, /not a CA/);
        assert.deepEqual(tc.validate(goodProps({ ca: certs.leaf, hostname: 'other.example.com' })).warnings, []);
      });
      it('accepts CRLF line breaks', function () {
        assert.deepEqual(tc.validate(goodProps({ ca: certs.ca.replace(/\n/g, '\r\n') })).errors, []);
      });
    });

    describe('fields', function () {
      it('needs at least one', function () {
        for (const f of [{}, [], undefined]) {
          const r = tc.validate(goodProps({ fields: f }));
          assert.deepEqual(inputs(r.errors), ['fields'], JSON.stringify(f));
        }
      });
      it('refuses a name not in the catalogue, suggesting the right case', function () {
        const r = tc.validate(goodProps({ fields: { batterylevel: { interval_seconds: 60 }, NoSuchField: { interval_seconds: 60 } } }));
        assert.deepEqual(inputs(r.errors), ['fields.batterylevel', 'fields.NoSuchField']);
        assert.match(r.errors[0].message, /did you mean BatteryLevel/);
        assert.match(r.errors[1].message, /not a field of the catalogue/);
      });
      for (const bad of [0, -5, 1.5, '1.5', 'abc', '', null, undefined]) {
        it(`refuses interval_seconds ${JSON.stringify(bad)}`, function () {
          const r = tc.validate(goodProps({ fields: { BatteryLevel: { interval_seconds: bad }, Gear: { interval_seconds: 60 } } }));
          assert.deepEqual(inputs(r.errors), ['fields.BatteryLevel']);
          assert.match(r.errors[0].message, /interval_seconds/);
        });
      }
      it('accepts interval_seconds as a numeric string', function () {
        assert.deepEqual(tc.validate(goodProps({ fields: { BatteryLevel: { interval_seconds: '30' } } })).errors, []);
      });
      it('checks minimum_delta >= 0 and resend_interval_seconds >= 1 when given', function () {
        const r = tc.validate(
          goodProps({
            fields: {
              BatteryLevel: { interval_seconds: 60, minimum_delta: -1 },
              Soc: { interval_seconds: 60, minimum_delta: 'x' },
              Odometer: { interval_seconds: 60, resend_interval_seconds: 0 },
              VehicleSpeed: { interval_seconds: 60, resend_interval_seconds: 2.5 },
              InsideTemp: { interval_seconds: 60, minimum_delta: 0.5, resend_interval_seconds: 3600 },
              OutsideTemp: { interval_seconds: 60, minimum_delta: '', resend_interval_seconds: null },
            },
          }),
        );
        assert.deepEqual(inputs(r.errors), ['fields.BatteryLevel', 'fields.Soc', 'fields.Odometer', 'fields.VehicleSpeed']);
        assert.match(r.errors[0].message, /minimum_delta/);
        assert.match(r.errors[2].message, /resend_interval_seconds/);
      });
      it('refuses a field listed twice (array form, names trimmed)', function () {
        const r = tc.validate(
          goodProps({
            fields: [
              { name: 'BatteryLevel', interval_seconds: 60 },
              { name: 'Gear', interval_seconds: 60 },
              { name: ' BatteryLevel ', interval_seconds: 30 },
            ],
          }),
        );
        assert.deepEqual(inputs(r.errors), ['fields.BatteryLevel']);
        assert.match(r.errors[0].message, /twice/);
      });
      it('refuses a row without a name', function () {
        const r = tc.validate(goodProps({ fields: [{ name: '', interval_seconds: 60 }] }));
        assert.deepEqual(inputs(r.errors), ['fields[0]']);
      });
      it('warns for unknown keys, placeholders, and more than ~10 fields per second', function () {
        let r = tc.validate(goodProps({ fields: { BatteryLevel: { interval_seconds: 60, interval: 5 } } }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['fields.BatteryLevel']);
        r = tc.validate(goodProps({ fields: { Experimental_1: { interval_seconds: 60 } } }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['fields.Experimental_1']);
        const fast = {};
        for (const n of [...FIELDS.keys()].filter((n) => !/^(Unknown|Deprecated|Experimental)/.test(n)).slice(0, 11)) {
          fast[n] = { interval_seconds: 1 };
        }
        r = tc.validate(goodProps({ fields: fast }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['fields']);
        assert.match(r.warnings[0].message, /11\.0 fields per second/);
      });
      it('refuses fields that are not an object', function () {
        assert.deepEqual(inputs(tc.validate(goodProps({ fields: 'BatteryLevel' })).errors), ['fields']);
      });
    });

    describe('exp', function () {
      it('is optional', function () {
        for (const e of [undefined, null, '', 0]) assert.deepEqual(tc.validate(goodProps({ exp: e })).errors, []);
      });
      it('must be in the future', function () {
        const now = Date.now();
        assert.deepEqual(tc.validate(goodProps({ exp: Math.floor(now / 1000) + 3600 })).errors, []);
        assert.deepEqual(tc.validate(goodProps({ exp: String(Math.floor(now / 1000) + 3600) })).errors, []);
        const r = tc.validate(goodProps({ exp: Math.floor(now / 1000) - 60 }));
        assert.deepEqual(inputs(r.errors), ['exp']);
        assert.match(r.errors[0].message, /not in the future/);
      });
      it('refuses milliseconds and non-numbers', function () {
        let r = tc.validate(goodProps({ exp: Date.now() + DAY }));
        assert.deepEqual(inputs(r.errors), ['exp']);
        assert.match(r.errors[0].message, /milliseconds/);
        r = tc.validate(goodProps({ exp: 'tomorrow' }));
        assert.deepEqual(inputs(r.errors), ['exp']);
      });
    });

    describe('vins', function () {
      it('needs at least one VIN (error)', function () {
        for (const v of ['', [], undefined, ' , ']) {
          const r = tc.validate(goodProps({ vins: v }));
          assert.deepEqual(inputs(r.errors), ['vins'], JSON.stringify(v));
        }
      });
      it('warns (only) for a VIN that is not 17 characters or has I, O, Q', function () {
        const r = tc.validate(goodProps({ vins: ['SHORT', '5YJ3E1EA7KF00000I', VIN1] }));
        assert.deepEqual(r.errors, []);
        assert.deepEqual(inputs(r.warnings), ['vins', 'vins']);
        assert.match(r.warnings[0].message, /SHORT.*5 characters/);
        assert.match(r.warnings[1].message, /5YJ3E1EA7KF00000I/);
      });
    });

    it('names every input at fault at once', function () {
      const r = tc.validate({ hostname: 'https://x', port: '4433abc', ca: '', fields: { Nope: { interval_seconds: 0 } }, vins: '', exp: 1 });
      assert.deepEqual(inputs(r.errors).sort(), ['ca', 'exp', 'fields.Nope', 'fields.Nope', 'hostname', 'port', 'vins']);
    });

    it('scope "vins" checks only the VINs', function () {
      assert.deepEqual(tc.validate({ vins: VIN1 }, { scope: 'vins' }), { errors: [], warnings: [] });
      assert.deepEqual(inputs(tc.validate({ hostname: 'x:1' }, { scope: 'vins' }).errors), ['vins']);
    });

    it('formatProblems joins problems into one line', function () {
      assert.equal(
        tc.formatProblems([
          { input: 'port', message: 'port must be an integer' },
          { input: 'vins', message: 'at least one VIN' },
        ]),
        'port must be an integer; vins: at least one VIN',
      );
    });
  });

  describe('buildConfig / buildRegisterBody', function () {
    // The seed's request body (docs/fleet-api.md "Registering VINs for telemetry"), with the
    // elided PEM replaced by a real one.
    const SEED_BODY_TEMPLATE =
      '{"vins": ["<VIN1>", "<VIN2>"], "config": {"hostname": "telemetry.example.com", ' +
      '"port": 4433, "ca": "-----BEGIN CERTIFICATE-----\\n…\\n-----END CERTIFICATE-----", "fields": ' +
      '{"BatteryLevel": {"interval_seconds": 60}, "ChargeLimitSoc": {"interval_seconds": 60}, ' +
      '"DetailedChargeState": {"interval_seconds": 60}, "Gear": {"interval_seconds": 60}, ' +
      '"VehicleName": {"interval_seconds": 60}, "Location": {"interval_seconds": 60}, ' +
      '"TimeToFullCharge": {"interval_seconds": 60}}}}';

    function seedBody(pem) {
      const o = JSON.parse(SEED_BODY_TEMPLATE);
      o.vins = [VIN1, VIN2];
      o.config.ca = pem;
      return JSON.stringify(o);
    }

    it("matches the seed's request byte for byte (plus prefer_typed, always sent)", function () {
      const pem = certs.ca.trim(); // the seed's PEM ends at -----END CERTIFICATE-----
      const props = { hostname: 'telemetry.example.com', port: '4433', ca: pem, fields: tc.presetFields('seed'), vins: `${VIN1},${VIN2}` };
      const ours = JSON.stringify(tc.buildRegisterBody(props.vins, tc.buildConfig(props)));
      const seed = seedBody(pem);
      // The seed sent no prefer_typed (= false: legacy strings); this node sends it, default true.
      assert.equal(ours, seed.replace(/\}\}$/, ',"prefer_typed":true}}'));
      const expected =
        `{"vins":["${VIN1}","${VIN2}"],"config":{"hostname":"telemetry.example.com","port":4433,` +
        `"ca":${JSON.stringify(pem)},"fields":{"BatteryLevel":{"interval_seconds":60},` +
        '"ChargeLimitSoc":{"interval_seconds":60},"DetailedChargeState":{"interval_seconds":60},' +
        '"Gear":{"interval_seconds":60},"VehicleName":{"interval_seconds":60},"Location":{"interval_seconds":60},' +
        '"TimeToFullCharge":{"interval_seconds":60}},"prefer_typed":true}}';
      assert.equal(ours, expected);
      // the PEM survives intact, newlines included
      assert.equal(JSON.parse(ours).config.ca, pem);
      assert.ok(JSON.parse(ours).config.ca.includes('\n'));
      assert.equal(typeof JSON.parse(ours).config.port, 'number');
    });

    it('keeps the documented key order and sends optional keys only when set', function () {
      const config = tc.buildConfig({
        exp: '2000000000',
        preferTyped: false,
        alertTypes: 'service, customer, service',
        fields: {
          Soc: { resend_interval_seconds: '3600', minimum_delta: '0.5', interval_seconds: '30' },
          Gear: { interval_seconds: 10, minimum_delta: '', resend_interval_seconds: null },
        },
        ca: certs.ca,
        port: 12345,
        hostname: '  fleet.example.com ',
      });
      assert.deepEqual(Object.keys(config), ['hostname', 'port', 'ca', 'fields', 'alert_types', 'prefer_typed', 'exp']);
      assert.equal(config.hostname, 'fleet.example.com');
      assert.equal(config.port, 12345);
      assert.equal(config.ca, certs.ca);
      assert.equal(
        JSON.stringify(config.fields),
        '{"Soc":{"interval_seconds":30,"minimum_delta":0.5,"resend_interval_seconds":3600},"Gear":{"interval_seconds":10}}',
      );
      assert.deepEqual(config.alert_types, ['service', 'customer']);
      assert.equal(config.prefer_typed, false);
      assert.equal(config.exp, 2000000000);
    });

    it('leaves out alert_types when empty and exp when unset; prefer_typed defaults to true', function () {
      for (const extra of [{ alertTypes: '' }, { alertTypes: [] }, { alertTypes: ' , ' }, {}]) {
        const c = tc.buildConfig({ ...goodProps(), ...extra, exp: '' });
        assert.deepEqual(Object.keys(c), ['hostname', 'port', 'ca', 'fields', 'prefer_typed']);
        assert.equal(c.prefer_typed, true);
      }
      assert.equal(tc.buildConfig({ ...goodProps(), preferTyped: undefined }).prefer_typed, true);
      assert.equal(tc.buildConfig({ ...goodProps(), preferTyped: 'false' }).prefer_typed, false);
      assert.deepEqual(tc.buildConfig({ ...goodProps(), alertTypes: ['service'] }).alert_types, ['service']);
    });

    it('takes fields as an array of rows (the editor table) and drops unknown keys', function () {
      const c = tc.buildConfig({
        ...goodProps(),
        fields: [
          { name: ' Gear ', interval_seconds: '5', note: 'x' },
          { name: 'Soc', interval_seconds: 60 },
        ],
      });
      assert.equal(JSON.stringify(c.fields), '{"Gear":{"interval_seconds":5},"Soc":{"interval_seconds":60}}');
    });

    it('buildRegisterBody de-duplicates the VINs and keeps the config object', function () {
      const config = tc.buildConfig(goodProps());
      const body = tc.buildRegisterBody([VIN1, ` ${VIN1}`, VIN2], config);
      assert.deepEqual(Object.keys(body), ['vins', 'config']);
      assert.deepEqual(body.vins, [VIN1, VIN2]);
      assert.equal(body.config, config);
    });
  });

  describe('mergeMessage', function () {
    const node = {
      action: 'status',
      hostname: 'a.example.com',
      port: 4433,
      ca: 'CA',
      fields: { Gear: { interval_seconds: 5 } },
      alertTypes: 'service',
      preferTyped: true,
      vins: VIN1,
      exp: '',
    };

    it("uses the node's action and settings when the message has none", function () {
      const { action, props } = tc.mergeMessage(node, { payload: 1 });
      assert.equal(action, 'status');
      assert.equal(props.vins, VIN1);
      assert.equal(props.hostname, 'a.example.com');
      assert.equal(tc.mergeMessage({}, {}).action, 'status');
      assert.equal(tc.mergeMessage({}, undefined).action, 'status');
    });

    it('msg.action, msg.vins and msg.config override', function () {
      const { action, props } = tc.mergeMessage(node, {
        action: ' Register ',
        vins: [VIN2, VIN3],
        config: { port: 1234, alert_types: ['customer'], prefer_typed: false, fields: { Soc: { interval_seconds: 1 } }, bogus: 1 },
      });
      assert.equal(action, 'register');
      assert.deepEqual(props.vins, [VIN2, VIN3]);
      assert.equal(props.port, 1234);
      assert.deepEqual(props.alertTypes, ['customer']);
      assert.equal(props.preferTyped, false);
      assert.deepEqual(props.fields, { Soc: { interval_seconds: 1 } });
      assert.equal(props.hostname, 'a.example.com');
      assert.ok(!('bogus' in props));
      assert.equal(node.port, 4433, 'the node settings are not changed');
    });

    it('an empty msg.vins does not clear the node VINs', function () {
      assert.equal(tc.mergeMessage(node, { vins: [] }).props.vins, VIN1);
      assert.equal(tc.mergeMessage(node, { vins: '' }).props.vins, VIN1);
    });

    it('knows every action of the node: the config actions, then doctor, ensure, usage', function () {
      assert.deepEqual([...tc.ACTIONS], ['check', 'register', 'status', 'errors', 'delete', 'doctor', 'ensure', 'usage']);
      assert.equal(tc.mergeMessage(node, { action: 'Doctor' }).action, 'doctor');
      assert.equal(tc.actionOf('usage', undefined), 'usage');
      assert.equal(tc.actionOf('', ''), 'status');
      assert.deepEqual([tc.isConfigAction('doctor'), tc.isRegistrationAction('doctor'), tc.isConfigAction('delete')], [false, true, true]);
      // the settings alone, whatever the action
      assert.deepEqual(tc.mergeSettings(node, { action: 'nuke', vins: VIN2 }).vins, VIN2);
    });

    it('refuses an unknown action and a msg.config that is not an object', function () {
      assert.throws(
        () => tc.mergeMessage(node, { action: 'wake' }),
        /unknown action "wake": use one of check, register, status, errors, delete, doctor, ensure, usage$/,
      );
      assert.throws(() => tc.mergeMessage(node, { config: 'x' }), /msg\.config must be an object/);
      assert.throws(() => tc.mergeMessage({ action: 'bad' }, {}), /unknown action/);
    });
  });

  describe('interpretRegister', function () {
    const vins = [VIN1, VIN2, VIN3];

    it('every VIN updated', function () {
      const out = tc.interpretRegister(vins, 200, { response: { updated_vehicles: 3 } }, { domain: 'fleet.example.com' });
      assert.deepEqual(
        out.map((e) => [e.vin, e.ok, e.state]),
        vins.map((v) => [v, true, 'updated']),
      );
      for (const e of out) assert.equal(typeof e.reason, 'string');
    });

    it('reads the skipped reasons from an HTTP 200 body, one per VIN', function () {
      const body = {
        response: {
          updated_vehicles: 0,
          skipped_vehicles: { missing_key: [VIN1], unsupported_firmware: [VIN2], unsupported_hardware: [VIN3] },
        },
      };
      const out = tc.interpretRegister(vins, 200, body, { domain: 'fleet.example.com' });
      assert.deepEqual(
        out.map((e) => [e.vin, e.ok, e.state, e.skipped]),
        [
          [VIN1, false, 'skipped', 'missing_key'],
          [VIN2, false, 'skipped', 'unsupported_firmware'],
          [VIN3, false, 'skipped', 'unsupported_hardware'],
        ],
      );
      assert.match(out[0].reason, /virtual key is not paired/);
      assert.ok(out[0].reason.includes('https://tesla.com/_ak/fleet.example.com'));
      assert.match(out[1].reason, /2024\.26 or later/);
      assert.match(out[2].reason, /hardware/);
    });

    it('max_configs and unknown keys', function () {
      const body = { response: { updated_vehicles: 1, skipped_vehicles: { max_configs: [VIN1], something_new: [VIN2] } } };
      const out = tc.interpretRegister(vins, 200, body);
      assert.equal(out[0].state, 'skipped');
      assert.match(out[0].reason, /maximum number of telemetry configs/);
      assert.equal(out[1].state, 'skipped');
      assert.equal(out[1].skipped, 'something_new');
      assert.match(out[1].reason, /something_new/);
      assert.deepEqual([out[2].ok, out[2].state], [true, 'updated']);
    });

    it('missing_key without a domain says to set it on the tesla-account node', function () {
      const out = tc.interpretRegister([VIN1], 200, { response: { updated_vehicles: 0, skipped_vehicles: { missing_key: [VIN1] } } }, {});
      assert.match(out[0].reason, /tesla-account/);
      assert.match(out[0].reason, /https:\/\/tesla\.com\/_ak\/<domain>/);
      const withScheme = tc.interpretRegister(
        [VIN1],
        200,
        { response: { skipped_vehicles: { missing_key: [VIN1] } } },
        { domain: 'https://fleet.example.com/' },
      );
      assert.ok(withScheme[0].reason.includes('https://tesla.com/_ak/fleet.example.com '), withScheme[0].reason);
    });

    it('skipped_vehicles may be absent', function () {
      const out = tc.interpretRegister([VIN1, VIN2], 200, { response: { updated_vehicles: 2 } });
      assert.deepEqual(
        out.map((e) => e.state),
        ['updated', 'updated'],
      );
    });

    it('does not claim success when updated_vehicles is short', function () {
      let out = tc.interpretRegister(vins, 200, { response: { updated_vehicles: 1, skipped_vehicles: { missing_key: [VIN3] } } });
      assert.deepEqual(
        out.map((e) => [e.state, e.ok]),
        [
          ['unknown', false],
          ['unknown', false],
          ['skipped', false],
        ],
      );
      assert.match(out[0].reason, /1 updated vehicle\(s\) for 2/);
      out = tc.interpretRegister([VIN1], 200, { response: { skipped_vehicles: {} } });
      assert.deepEqual([out[0].state, out[0].ok], ['unknown', false]);
      assert.match(out[0].reason, /did not say/);
      out = tc.interpretRegister([VIN1], 200, { response: null });
      assert.deepEqual([out[0].state, out[0].ok], ['unknown', false]);
    });

    it('matches VINs case-insensitively and parses a string body', function () {
      const body = JSON.stringify({ response: { updated_vehicles: 0, skipped_vehicles: { missing_key: [VIN1.toLowerCase()] } } });
      const out = tc.interpretRegister([VIN1], 200, body, { domain: 'x.example' });
      assert.equal(out[0].state, 'skipped');
    });

    it('HTTP 429 gives rate-limited with the retry time; other errors give error', function () {
      let out = tc.interpretRegister([VIN1, VIN2], 429, { response: null, error: 'too many' }, { retryAfterSeconds: 37829 });
      assert.deepEqual(
        out.map((e) => e.state),
        ['rate-limited', 'rate-limited'],
      );
      assert.match(out[0].reason, /37829 s/);
      assert.equal(out[0].retryAfterSeconds, 37829);
      out = tc.interpretRegister([VIN1], 403, { response: null, error: 'missing scope', error_description: 'vehicle_device_data' });
      assert.deepEqual([out[0].state, out[0].ok, out[0].httpStatus], ['error', false, 403]);
      assert.match(out[0].reason, /HTTP 403.*missing scope: vehicle_device_data/);
      out = tc.interpretRegister([VIN1], 412, 'not signed');
      assert.match(out[0].reason, /HTTP 412.*not signed/);
    });
  });

  describe('interpretStatus', function () {
    function ours(extra = {}) {
      return tc.buildConfig(goodProps(extra));
    }
    function carConfig(extra = {}) {
      return { ...JSON.parse(JSON.stringify(ours())), ...extra };
    }
    function status(response) {
      return { response };
    }

    it('adopted: synced and equal to ours', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig(), limit_reached: false, key_paired: true }), ours());
      assert.deepEqual([e.vin, e.ok, e.state], [VIN1, true, 'adopted']);
      assert.deepEqual(e.differences, []);
    });

    it('adopted despite extra keys, a string port, and a CA with CRLF and trailing spaces', function () {
      const car = carConfig({
        port: '4433',
        ca: certs.ca.replace(/\n/g, ' \r\n') + '\r\n\r\n',
        delivery_policy: 'latest',
        exp: 99,
        fields: Object.fromEntries(Object.entries(ours().fields).map(([k, v]) => [k, { ...v, interval_seconds: String(v.interval_seconds) }])),
      });
      const e = tc.interpretStatus(VIN1, status({ synced: true, config: car, limit_reached: false, key_paired: true }), ours());
      assert.equal(e.state, 'adopted', e.reason);
      assert.equal(e.ok, true);
    });

    it('key not paired comes first', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: false, config: null, limit_reached: true, key_paired: false }), ours(), {
        domain: 'fleet.example.com',
      });
      assert.deepEqual([e.ok, e.state], [false, 'key not paired']);
      assert.ok(e.reason.includes('https://tesla.com/_ak/fleet.example.com'));
    });

    it('rejected: synced true with config null', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: true, config: null, limit_reached: false, key_paired: true }), ours());
      assert.deepEqual([e.ok, e.state], [false, 'rejected']);
      assert.match(e.reason, /too many telemetry configs/);
    });

    it('rejected: limit_reached', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: false, config: carConfig(), limit_reached: true, key_paired: true }), ours());
      assert.deepEqual([e.ok, e.state], [false, 'rejected']);
      assert.match(e.reason, /limit reached/);
    });

    it('pending: not synced yet', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: false, config: carConfig(), limit_reached: false, key_paired: true }), ours());
      assert.deepEqual([e.ok, e.state], [false, 'pending']);
      assert.match(e.reason, /next connection/);
      assert.match(e.reason, /minutes to a day/);
    });

    it('pending with a config that differs says so', function () {
      const e = tc.interpretStatus(VIN1, status({ synced: false, config: carConfig({ port: 1 }) }), ours());
      assert.equal(e.state, 'pending');
      assert.match(e.reason, /differs.*port/);
    });

    it('not configured: no config and nothing pending', function () {
      for (const r of [{ synced: false, config: null, key_paired: true }, { config: null }, {}]) {
        const e = tc.interpretStatus(VIN1, status(r), ours());
        assert.deepEqual([e.ok, e.state], [false, 'not configured'], JSON.stringify(r));
      }
    });

    it('drift names every difference', function () {
      const ourConfig = ours();
      const car = carConfig({
        hostname: 'old.example.com',
        port: 443,
        ca: certs.ca2,
        fields: {
          BatteryLevel: { interval_seconds: 300 },
          ChargeLimitSoc: { interval_seconds: 60, minimum_delta: 1 },
          DetailedChargeState: { interval_seconds: 60 },
          Gear: { interval_seconds: 60 },
          VehicleName: { interval_seconds: 60 },
          Odometer: { interval_seconds: 60 },
        },
      });
      const e = tc.interpretStatus(VIN1, status({ synced: true, config: car, limit_reached: false, key_paired: true }), ourConfig);
      assert.deepEqual([e.ok, e.state], [false, 'drift']);
      assert.deepEqual(e.differences, [
        'hostname: "old.example.com" on the car, "telemetry.example.com" here',
        'port: 443 on the car, 4433 here',
        e.differences[2],
        'fields missing on the car: Location, TimeToFullCharge',
        'extra fields on the car: Odometer',
        'BatteryLevel interval_seconds: 300 on the car, 60 here',
        'ChargeLimitSoc minimum_delta: 1 on the car, not set here',
      ]);
      assert.match(e.differences[2], /^CA differs: CN=Other CA.* on the car, CN=Telemetry Test CA.* here$/);
      for (const d of e.differences) assert.ok(e.reason.includes(d));
    });

    it('drift on prefer_typed and alert_types only when the car reports them', function () {
      let e = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig({ prefer_typed: false }) }), ours());
      assert.equal(e.state, 'drift');
      assert.match(e.reason, /prefer_typed: false on the car, true here/);
      const noPt = carConfig();
      delete noPt.prefer_typed;
      e = tc.interpretStatus(VIN1, status({ synced: true, config: noPt }), ours());
      assert.equal(e.state, 'adopted');
      e = tc.interpretStatus(
        VIN1,
        status({ synced: true, config: carConfig({ alert_types: ['customer', 'service'] }) }),
        ours({ alertTypes: 'service,customer' }),
      );
      assert.equal(e.state, 'adopted', e.reason);
      e = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig({ alert_types: ['customer'] }) }), ours({ alertTypes: 'service' }));
      assert.equal(e.state, 'drift');
    });

    it('without our config (or an empty one), a synced config is adopted (not compared)', function () {
      for (const o of [undefined, null, tc.buildConfig({})]) {
        const e = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig({ port: 1 }) }), o);
        assert.deepEqual([e.ok, e.state], [true, 'adopted']);
        assert.match(e.reason, /not compared/);
      }
    });

    it('compares only what our config sets', function () {
      const partial = tc.buildConfig({ hostname: 'telemetry.example.com', port: 'x', ca: '' });
      const e = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig() }), partial);
      assert.equal(e.state, 'adopted', e.reason);
      const d = tc.interpretStatus(VIN1, status({ synced: true, config: carConfig({ hostname: 'x.example.com' }) }), partial);
      assert.deepEqual(d.differences, ['hostname: "x.example.com" on the car, "telemetry.example.com" here']);
    });

    it('a body without a response object is an error', function () {
      for (const b of [null, 'oops', { response: null, error: 'vehicle unavailable' }, { response: [] }]) {
        const e = tc.interpretStatus(VIN1, b, ours());
        assert.deepEqual([e.ok, e.state], [false, 'error'], JSON.stringify(b));
      }
      assert.match(tc.interpretStatus(VIN1, { response: null, error: 'vehicle unavailable' }).reason, /vehicle unavailable/);
    });

    it('configDifferences is empty for equal configs', function () {
      assert.deepEqual(tc.configDifferences(ours(), ours()), []);
    });
  });

  describe('compareFirmware', function () {
    it('compares numerically, ignoring the build hash', function () {
      assert.equal(tc.compareFirmware('2024.44.32.1 abcdef', '2024.26'), 1);
      assert.equal(tc.compareFirmware('2024.26', '2024.26'), 0);
      assert.equal(tc.compareFirmware('2024.26.0', '2024.26'), 0);
      assert.equal(tc.compareFirmware('2024.8.9', '2024.26'), -1);
      assert.equal(tc.compareFirmware('2023.44.30.8 1234', '2024.26'), -1);
      assert.equal(tc.compareFirmware('2025.2', '2024.26'), 1);
      assert.ok(Number.isNaN(tc.compareFirmware('develop', '2024.26')));
      assert.ok(Number.isNaN(tc.compareFirmware(undefined, '2024.26')));
    });
  });

  describe('interpretCheck', function () {
    const teslaShape = {
      response: {
        key_paired_vins: [VIN1, VIN3],
        unpaired_vins: [VIN2],
        vehicle_info: {
          [VIN1]: {
            firmware_version: '2024.44.32.1 abcdef',
            vehicle_command_protocol_required: true,
            fleet_telemetry_version: '1.0.2',
            total_number_of_keys: 5,
            discounted_device_data: false,
          },
          [VIN2]: { firmware_version: '2024.44.25', fleet_telemetry_version: '1.0.0', total_number_of_keys: 3 },
          [VIN3]: { firmware_version: '2024.20.9 0a1b2c', fleet_telemetry_version: '1.0.0', total_number_of_keys: 2 },
        },
      },
    };

    it("reads Tesla's shape", function () {
      const out = tc.interpretCheck([VIN1, VIN2, VIN3], teslaShape, { domain: 'fleet.example.com' });
      assert.deepEqual(
        out.map((e) => [e.vin, e.ok, e.state]),
        [
          [VIN1, true, 'ready'],
          [VIN2, false, 'key not paired'],
          [VIN3, false, 'unsupported firmware'],
        ],
      );
      assert.deepEqual(
        {
          keyPaired: out[0].keyPaired,
          firmware: out[0].firmware,
          fleetTelemetryVersion: out[0].fleetTelemetryVersion,
          totalNumberOfKeys: out[0].totalNumberOfKeys,
        },
        { keyPaired: true, firmware: '2024.44.32.1 abcdef', fleetTelemetryVersion: '1.0.2', totalNumberOfKeys: 5 },
      );
      assert.match(out[0].reason, /key paired.*2024\.44\.32\.1.*1\.0\.2.*5 key/);
      assert.ok(out[1].reason.includes('https://tesla.com/_ak/fleet.example.com'));
      assert.match(out[2].reason, /2024\.20\.9.*older than 2024\.26/);
    });

    it('reads a per-VIN array shape', function () {
      const body = {
        response: [
          { vin: VIN1, key_paired: true, firmware_version: '2024.26.1', fleet_telemetry_version: '1.0.0', total_number_of_keys: 4 },
          { vin: VIN2, key_paired: false, firmware_version: '2024.2' },
        ],
      };
      const out = tc.interpretCheck(`${VIN1},${VIN2}`, body);
      assert.deepEqual(
        out.map((e) => e.state),
        ['ready', 'key not paired'],
      );
      assert.match(out[1].reason, /also.*older than 2024\.26/);
      assert.deepEqual(
        tc.interpretCheck([VIN1], body.response).map((e) => e.state),
        ['ready'],
      );
    });

    it('unknown for a VIN Tesla does not mention, or without firmware', function () {
      const out = tc.interpretCheck([VIN1, VIN2], { response: { key_paired_vins: [VIN2], unpaired_vins: [], vehicle_info: {} } });
      assert.deepEqual(
        out.map((e) => [e.state, e.ok]),
        [
          ['unknown', false],
          ['unknown', false],
        ],
      );
      assert.match(out[0].reason, /says nothing/);
      assert.match(out[1].reason, /firmware/);
      for (const b of [null, 'x', { response: null }]) {
        assert.deepEqual(
          tc.interpretCheck([VIN1], b).map((e) => e.state),
          ['unknown'],
        );
      }
    });
  });

  describe('interpretErrors', function () {
    const errs = [
      { name: 'client', error: 'dial tcp: i/o timeout', vin: VIN1, created_at: '2024-05-01T10:00:00Z', txID: 'a' },
      { name: 'client', error: 'x509: certificate signed by unknown authority', error_name: 'tls', vin: VIN1, created_at: '2024-05-02T10:00:00Z' },
      { name: 'client', error: 'other car', vin: VIN2, created_at: '2024-05-03T10:00:00Z' },
    ];

    it('lists the errors newest first, leaving out other VINs', function () {
      const e = tc.interpretErrors(VIN1, { response: { fleet_telemetry_errors: errs } });
      assert.deepEqual([e.vin, e.ok, e.state], [VIN1, false, 'errors']);
      assert.deepEqual(e.errors, [
        { name: 'client', error: 'x509: certificate signed by unknown authority', errorName: 'tls', createdAt: '2024-05-02T10:00:00Z', txId: null },
        { name: 'client', error: 'dial tcp: i/o timeout', errorName: null, createdAt: '2024-05-01T10:00:00Z', txId: 'a' },
      ]);
      assert.match(e.reason, /2 telemetry error\(s\).*2024-05-02.*certificate signed by unknown authority/);
    });

    it('takes a bare array', function () {
      const e = tc.interpretErrors(VIN1, errs);
      assert.equal(e.errors.length, 2);
      assert.equal(tc.interpretErrors(VIN1, { response: errs }).errors.length, 2);
    });

    it('no errors', function () {
      for (const b of [{ response: { fleet_telemetry_errors: [] } }, [], { response: {} }]) {
        const e = tc.interpretErrors(VIN1, b);
        assert.deepEqual([e.ok, e.state, e.errors], [true, 'no errors', []], JSON.stringify(b));
      }
    });

    it('an unexpected shape is an error', function () {
      const e = tc.interpretErrors(VIN1, { response: null, error: 'boom' });
      assert.deepEqual([e.ok, e.state], [false, 'error']);
      assert.match(e.reason, /boom/);
    });
  });

  describe('interpretDelete', function () {
    it('deleted on 2xx', function () {
      for (const b of [{ response: { updated_vehicles: 1 } }, { response: true }, '', undefined]) {
        const e = tc.interpretDelete(VIN1, 200, b);
        assert.deepEqual([e.vin, e.ok, e.state], [VIN1, true, 'deleted'], JSON.stringify(b));
      }
    });
    it('unknown when Tesla updated no vehicle', function () {
      const e = tc.interpretDelete(VIN1, 200, { response: { updated_vehicles: 0 } });
      assert.deepEqual([e.ok, e.state], [false, 'unknown']);
    });
    it('error and rate-limited', function () {
      let e = tc.interpretDelete(VIN1, 404, { response: null, error: 'not_found' });
      assert.deepEqual([e.ok, e.state, e.httpStatus], [false, 'error', 404]);
      assert.match(e.reason, /HTTP 404.*unknown vehicle.*not_found/);
      e = tc.interpretDelete(VIN1, 429, {}, 60);
      assert.deepEqual([e.state, e.retryAfterSeconds], ['rate-limited', 60]);
    });
  });

  describe('errorEntry', function () {
    it('rate-limited with the retry time in seconds', function () {
      const err = Object.assign(new Error('Too many requests'), { kind: 'rate-limited', retryAfterSeconds: 37829, status: 429 });
      const e = tc.errorEntry(VIN1, err);
      assert.deepEqual([e.vin, e.ok, e.state, e.retryAfterSeconds], [VIN1, false, 'rate-limited', 37829]);
      assert.match(e.reason, /retry in 37829 s \(about 10 h 30 min\)/);
      assert.match(tc.errorEntry(VIN1, { kind: 'rate-limited', retryAfterSeconds: 30 }).reason, /retry in 30 s$/);
      assert.match(tc.errorEntry(VIN1, { kind: 'rate-limited' }).reason, /retry later/);
    });
    it("error with the error's message", function () {
      const e = tc.errorEntry(VIN1, Object.assign(new Error('Cannot reach localhost:4443 (ECONNREFUSED).'), { kind: 'network', status: null }));
      assert.deepEqual([e.ok, e.state, e.reason], [false, 'error', 'Cannot reach localhost:4443 (ECONNREFUSED).']);
      assert.equal(tc.errorEntry(VIN1, 'plain text').reason, 'plain text');
      assert.equal(tc.errorEntry(VIN1, undefined).reason, 'unknown error');
      assert.equal(tc.errorEntry(VIN1, { message: 'x', status: 500 }).httpStatus, 500);
    });
  });

  describe('describeCa', function () {
    it('gives subject, issuer, validity, fingerprint', function () {
      const info = tc.describeCa(certs.ca);
      assert.match(info.subject, /CN=Telemetry Test CA/);
      assert.equal(info.issuer, info.subject);
      assert.ok(!Number.isNaN(Date.parse(info.validFrom)));
      assert.ok(Date.parse(info.validTo) > Date.now() + 300 * DAY);
      assert.equal(info.expired, false);
      assert.equal(info.isCa, true);
      assert.equal(info.count, 1);
      assert.match(info.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
      assert.equal(info.validTo, new Date(info.validTo).toISOString());
      const json = JSON.parse(JSON.stringify(info));
      assert.deepEqual(json, info);
    });
    it('flags an expired certificate, and expiry against now', function () {
      assert.equal(tc.describeCa(certs.expired).expired, true);
      assert.equal(tc.describeCa(certs.ca, Date.now() + 400 * DAY).expired, true);
    });
    it('counts a bundle and describes its first certificate', function () {
      const info = tc.describeCa(certs.ca2 + certs.ca);
      assert.equal(info.count, 2);
      assert.match(info.subject, /Other CA/);
    });
    it('throws clear errors', function () {
      assert.throws(() => tc.describeCa(''), /no certificate given/);
      assert.throws(() => tc.describeCa(undefined), /no certificate given/);
      assert.throws(() => tc.describeCa('hello'), /not a PEM certificate/);
      assert.throws(() => tc.describeCa(certs.key), /private key/);
      assert.throws(() => tc.describeCa('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /does not parse/);
      assert.throws(() => tc.describeCa(certs.ca + '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), /does not parse/);
    });
  });

  describe('pairingLink', function () {
    it('builds the link from a domain', function () {
      assert.equal(tc.pairingLink('fleet.example.com'), 'https://tesla.com/_ak/fleet.example.com');
      assert.equal(tc.pairingLink(' https://fleet.example.com/x '), 'https://tesla.com/_ak/fleet.example.com');
      assert.equal(tc.pairingLink(''), null);
      assert.equal(tc.pairingLink(undefined), null);
    });
  });
});
