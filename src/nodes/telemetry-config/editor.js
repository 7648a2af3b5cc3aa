(function() {
    // ---- BEGIN telemetry-config shared ----
    // Plain ES5, no DOM: the editor's copy of what src/lib/telemetry-config.ts does for the
    // preview (buildConfig / buildRegisterBody) and the checks that need no certificate
    // parsing (validate). test/telemetry-config-lib.test.js evaluates this block and checks
    // it against the TypeScript library, so the preview shows exactly what the node sends.

    // Fallback copy of PRESETS from src/lib/telemetry-config.ts (the test checks it is equal).
    // The editor asks the runtime for the live list at GET tesla-fleet-telemetry/presets.
    var TC_PRESETS = {
        "seed": {
            "label": "Seed (7 fields)",
            "fields": {
                "BatteryLevel": { "interval_seconds": 60 },
                "ChargeLimitSoc": { "interval_seconds": 60 },
                "DetailedChargeState": { "interval_seconds": 60 },
                "Gear": { "interval_seconds": 60 },
                "VehicleName": { "interval_seconds": 60 },
                "Location": { "interval_seconds": 60 },
                "TimeToFullCharge": { "interval_seconds": 60 }
            }
        },
        "charging-presence": {
            "label": "Charging and presence",
            "fields": {
                "DetailedChargeState": { "interval_seconds": 10 },
                "ChargeAmps": { "interval_seconds": 10 },
                "ChargeCurrentRequest": { "interval_seconds": 10 },
                "ChargeCurrentRequestMax": { "interval_seconds": 300 },
                "ChargerPhases": { "interval_seconds": 60 },
                "ChargerVoltage": { "interval_seconds": 10 },
                "ACChargingPower": { "interval_seconds": 10 },
                "DCChargingPower": { "interval_seconds": 10 },
                "ACChargingEnergyIn": { "interval_seconds": 60 },
                "DCChargingEnergyIn": { "interval_seconds": 60 },
                "FastChargerPresent": { "interval_seconds": 10 },
                "ChargingCableType": { "interval_seconds": 60 },
                "ChargePortDoorOpen": { "interval_seconds": 10 },
                "ChargePortLatch": { "interval_seconds": 10 },
                "ChargeLimitSoc": { "interval_seconds": 60 },
                "BatteryLevel": { "interval_seconds": 60 },
                "Soc": { "interval_seconds": 60 },
                "EstBatteryRange": { "interval_seconds": 60 },
                "TimeToFullCharge": { "interval_seconds": 60 },
                "ScheduledChargingPending": { "interval_seconds": 300 },
                "Location": { "interval_seconds": 30 },
                "LocatedAtHome": { "interval_seconds": 10 },
                "Gear": { "interval_seconds": 10 },
                "VehicleSpeed": { "interval_seconds": 10 },
                "Locked": { "interval_seconds": 10 },
                "DoorState": { "interval_seconds": 10 },
                "SentryMode": { "interval_seconds": 30 },
                "InsideTemp": { "interval_seconds": 300 },
                "OutsideTemp": { "interval_seconds": 300 },
                "Odometer": { "interval_seconds": 300 },
                "VehicleName": { "interval_seconds": 3600 }
            }
        }
    };

    var TC_NUMERIC = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;
    var TC_FIELD_KEYS = ["interval_seconds", "minimum_delta", "resend_interval_seconds"];

    function tcIsSet(v) {
        return v !== undefined && v !== null && !(typeof v === "string" && v.trim() === "");
    }
    function tcToNumber(v) {
        if (typeof v === "number") { return v; }
        if (typeof v === "string" && TC_NUMERIC.test(v.trim())) { return Number(v.trim()); }
        return NaN;
    }
    function tcParseList(input) {
        var parts = Array.isArray(input) ? input : typeof input === "string" ? input.split(",") :
            (input === undefined || input === null) ? [] : [input];
        var out = [], seen = {};
        for (var i = 0; i < parts.length; i++) {
            if (parts[i] === undefined || parts[i] === null) { continue; }
            var s = String(parts[i]).trim();
            if (s === "" || seen.hasOwnProperty(s)) { continue; }
            seen[s] = true;
            out.push(s);
        }
        return out;
    }
    function tcParsePort(raw) {
        if (typeof raw === "number") { return raw % 1 === 0 && raw >= 1 && raw <= 65535 ? raw : null; }
        if (typeof raw === "string" && /^\s*\d+\s*$/.test(raw)) {
            var n = Number(raw.trim());
            return n >= 1 && n <= 65535 ? n : null;
        }
        return null;
    }
    function tcParseExp(raw) {
        if (!tcIsSet(raw) || raw === 0 || raw === "0") { return null; }
        return tcToNumber(raw);
    }
    // [{name, setting}] from the object form {Name: {...}} or the array form [{name, ...}].
    function tcFieldRows(fields) {
        var rows = [];
        if (Array.isArray(fields)) {
            fields.forEach(function(r) {
                var setting = {};
                var row = (r && typeof r === "object") ? r : { name: String(r) };
                Object.keys(row).forEach(function(k) { if (k !== "name") { setting[k] = row[k]; } });
                rows.push({ name: typeof row.name === "string" ? row.name.trim() : String(row.name == null ? "" : row.name), setting: setting });
            });
        } else if (fields && typeof fields === "object") {
            Object.keys(fields).forEach(function(name) {
                var s = fields[name];
                rows.push({ name: name.trim(), setting: (s && typeof s === "object" && !Array.isArray(s)) ? s : { interval_seconds: s } });
            });
        }
        return rows;
    }
    function tcBuildConfig(props) {
        var p = props || {};
        var fields = {};
        tcFieldRows(p.fields).forEach(function(row) {
            var f = { interval_seconds: tcToNumber(row.setting.interval_seconds) };
            if (tcIsSet(row.setting.minimum_delta)) { f.minimum_delta = tcToNumber(row.setting.minimum_delta); }
            if (tcIsSet(row.setting.resend_interval_seconds)) { f.resend_interval_seconds = tcToNumber(row.setting.resend_interval_seconds); }
            fields[row.name] = f;
        });
        var port = tcParsePort(p.port);
        var config = {
            hostname: typeof p.hostname === "string" ? p.hostname.trim() : String(p.hostname == null ? "" : p.hostname),
            port: port !== null ? port : tcToNumber(p.port),
            ca: typeof p.ca === "string" ? p.ca : "",
            fields: fields
        };
        var alertTypes = tcParseList(p.alertTypes);
        if (alertTypes.length > 0) { config.alert_types = alertTypes; }
        var pt = p.preferTyped;
        config.prefer_typed = (pt === undefined || pt === null || pt === "") ? true :
            typeof pt === "string" ? pt.trim().toLowerCase() !== "false" : Boolean(pt);
        var exp = tcParseExp(p.exp);
        if (exp !== null) { config.exp = exp; }
        return config;
    }
    function tcBuildBody(props) {
        return { vins: tcParseList(props && props.vins), config: tcBuildConfig(props) };
    }
    // The checks of validate() that need no certificate parsing. knownFields: optional
    // {Name: true} from the catalogue (skipped while the list is not loaded).
    function tcCheck(props, knownFields, now) {
        var p = props || {};
        var errors = [], warnings = [];
        now = now || Date.now();
        function err(input, message) { errors.push({ input: input, message: message }); }
        var h = typeof p.hostname === "string" ? p.hostname.trim() : "";
        if (!h) { err("hostname", "hostname is required: the name the car connects to, e.g. telemetry.example.com"); }
        else if (/^[a-z][a-z0-9+.\-]*:\/\//i.test(h)) { err("hostname", "hostname has a scheme: give only the name"); }
        else if (h.indexOf("/") >= 0) { err("hostname", "hostname has a path: give only the name"); }
        else if (/:\d*$/.test(h) && h.split(":").length === 2) { err("hostname", "hostname has a port: give the port in Port"); }
        else {
            var name = h.charAt(h.length - 1) === "." ? h.slice(0, -1) : h;
            var labels = name.split(".");
            var ipv4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/.test(name);
            var bad = name.length > 253 || /^\d+$/.test(labels[labels.length - 1]) || labels.some(function(l) {
                return !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/.test(l);
            });
            if (!ipv4 && bad) { err("hostname", "hostname is not a valid host name (letters, digits, hyphens and dots)"); }
        }
        if (!tcIsSet(p.port)) { err("port", "port is required, e.g. 4433"); }
        else if (tcParsePort(p.port) === null) { err("port", "port must be an integer from 1 to 65535"); }
        if (!tcIsSet(p.ca)) { err("ca", "ca is required: the PEM of the CA that signed the telemetry server's certificate"); }
        else if (p.ca.indexOf("-----BEGIN CERTIFICATE-----") < 0) { err("ca", "ca is not a PEM certificate (-----BEGIN CERTIFICATE----- …)"); }
        var rows = tcFieldRows(p.fields), seen = {}, perSecond = 0;
        if (rows.length === 0) { err("fields", "at least one field is needed (pick a preset or add fields)"); }
        rows.forEach(function(row, i) {
            var input = row.name ? "fields." + row.name : "fields[" + i + "]";
            if (!row.name) { err(input, "field " + (i + 1) + " has no name"); return; }
            if (seen.hasOwnProperty(row.name)) { err(input, row.name + " is listed twice"); return; }
            seen[row.name] = true;
            if (knownFields && !knownFields.hasOwnProperty(row.name)) { err(input, row.name + " is not a field of the catalogue"); }
            var s = row.setting, iv = tcToNumber(s.interval_seconds);
            if (!tcIsSet(s.interval_seconds) || !(iv % 1 === 0) || iv < 1) { err(input, row.name + ": interval_seconds must be an integer >= 1"); }
            else { perSecond += 1 / iv; }
            if (tcIsSet(s.minimum_delta)) {
                var d = tcToNumber(s.minimum_delta);
                if (!isFinite(d) || d < 0) { err(input, row.name + ": minimum_delta must be a number >= 0"); }
            }
            if (tcIsSet(s.resend_interval_seconds)) {
                var r = tcToNumber(s.resend_interval_seconds);
                if (!(r % 1 === 0) || r < 1) { err(input, row.name + ": resend_interval_seconds must be an integer >= 1"); }
            }
        });
        if (perSecond > 10) {
            warnings.push({ input: "fields", message: "up to " + perSecond.toFixed(1) + " fields per second; Tesla advises at most about 10" });
        }
        var exp = tcParseExp(p.exp);
        if (exp !== null) {
            if (!(exp % 1 === 0) || exp < 0) { err("exp", "exp must be a whole number of seconds since the epoch"); }
            else if (exp > 1e11) { err("exp", "exp looks like milliseconds: give seconds since the epoch"); }
            else if (exp * 1000 <= now) { err("exp", "the expiry is not in the future"); }
        }
        var vins = tcParseList(p.vins);
        if (vins.length === 0) { err("vins", "at least one VIN is needed (here, or msg.vins)"); }
        vins.forEach(function(v) {
            if (v.length !== 17) { warnings.push({ input: "vins", message: "VIN " + v + " has " + v.length + " characters, not 17" }); }
            else if (!/^[A-HJ-NPR-Z0-9]{17}$/.test(v)) { warnings.push({ input: "vins", message: "VIN " + v + " has characters a VIN does not use" }); }
        });
        return { errors: errors, warnings: warnings };
    }
    // ---- END telemetry-config shared ----

    var ACTIONS = ["check", "register", "status", "errors", "delete"];

    // A value fails with a reason on Node-RED >= 3.1 (which passes `opt`), with false before.
    function fail(opt, reason) { return opt ? reason : false; }
    function firstError(result, input) {
        for (var i = 0; i < result.errors.length; i++) {
            var e = result.errors[i];
            if (e.input === input || e.input.indexOf(input + ".") === 0 || e.input.indexOf(input + "[") === 0) { return e.message; }
        }
        return null;
    }
    function clone(o) { return JSON.parse(JSON.stringify(o)); }

    // Catalogue and presets from the runtime, loaded once per editor session.
    var catalogue = null;      // [{name, kind, unit}]
    var knownFields = null;    // {Name: {name, kind, unit}}
    var presets = TC_PRESETS;
    var loading = null;
    function loadRuntimeLists() {
        if (loading) { return loading; }
        var d1 = $.getJSON("tesla-fleet-telemetry/fields").then(function(list) {
            if (Array.isArray(list) && list.length) {
                catalogue = list;
                knownFields = {};
                list.forEach(function(f) { if (f && f.name) { knownFields[f.name] = f; } });
            }
        }, function() { /* offline or older runtime: names are checked at deploy */ });
        var d2 = $.getJSON("tesla-fleet-telemetry/presets").then(function(p) {
            if (p && typeof p === "object" && p.seed && p.seed.fields) { presets = p; }
        }, function() { /* keep the embedded copy */ });
        loading = $.when(d1, d2);
        return loading;
    }

    RED.nodes.registerType("telemetry-config", {
        category: "tesla",
        color: "#E8E8E8",
        paletteLabel: "telemetry config",
        icon: "tesla.svg",
        inputs: 1,
        outputs: 1,
        outputLabels: ["results, one entry per VIN"],
        defaults: {
            name: { value: "" },
            account: { value: "", type: "tesla-account", required: true, label: "Account" },
            action: {
                value: "status",
                label: "Action",
                validate: function(v, opt) {
                    return ACTIONS.indexOf(v) >= 0 ? true : fail(opt, "Action must be one of " + ACTIONS.join(", "));
                }
            },
            vins: { value: "", label: "VINs" },
            hostname: {
                value: "",
                label: "Hostname",
                validate: function(v, opt) {
                    if (!String(v || "").trim()) { return true; } // checked at run time for register only
                    var m = firstError(tcCheck({ hostname: v }), "hostname");
                    return m ? fail(opt, m) : true;
                }
            },
            port: {
                value: 4433,
                label: "Port",
                validate: function(v, opt) {
                    if (v === "" || v === undefined || v === null) { return true; }
                    return tcParsePort(v) === null ? fail(opt, "Port must be an integer from 1 to 65535") : true;
                }
            },
            ca: { value: "", label: "CA" },
            fields: {
                value: clone(TC_PRESETS.seed.fields),
                label: "Fields",
                validate: function(v, opt) {
                    var r = tcCheck({ fields: v }, knownFields);
                    var m = firstError(r, "fields");
                    return m ? fail(opt, m) : true;
                }
            },
            alertTypes: { value: "" },
            preferTyped: { value: true },
            exp: {
                value: "",
                label: "Expiry",
                validate: function(v, opt) {
                    var m = firstError(tcCheck({ exp: v }), "exp");
                    return m ? fail(opt, m) : true;
                }
            }
        },
        label: function() {
            if (this.name) { return this.name; }
            var action = this.action || "status";
            return "telemetry " + action + (this.hostname ? " · " + this.hostname : "");
        },
        labelStyle: function() { return this.name ? "node_label_italic" : ""; },
        oneditprepare: function() {
            var node = this;
            var fieldsList = $("#node-input-tc-fields");
            var preview = $("#node-input-tc-preview");
            var problems = $("#node-input-tc-problems");
            var datalist = $("#node-input-tc-field-names");

            // A flow imported without preferTyped runs with the default, true: show it so.
            if (node.preferTyped === undefined || node.preferTyped === null || node.preferTyped === "") {
                $("#node-input-preferTyped").prop("checked", true);
            }

            if (ACTIONS.indexOf(node.action) < 0) { $("#node-input-action").val("status"); }

            // ---- port and expiry (kept out of node-input-<prop> so that oneditsave types them)
            $("#node-input-tc-port").val(node.port === undefined || node.port === null ? "" : node.port);
            function toLocalInput(sec) {
                var d = new Date(sec * 1000);
                function pad(n) { return (n < 10 ? "0" : "") + n; }
                return d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate()) + "T" + pad(d.getHours()) + ":" + pad(d.getMinutes());
            }
            function expValue() {
                var s = $("#node-input-tc-exp").val();
                if (!s) { return ""; }
                var t = new Date(s).getTime();
                return isFinite(t) ? Math.floor(t / 1000) : "";
            }
            if (tcIsSet(node.exp) && isFinite(Number(node.exp)) && Number(node.exp) > 0) {
                $("#node-input-tc-exp").val(toLocalInput(Number(node.exp)));
            }
            $("#node-input-tc-exp-clear").on("click", function(e) {
                e.preventDefault();
                $("#node-input-tc-exp").val("");
                update();
            });

            // ---- fields table
            function fillDatalist() {
                datalist.empty();
                (catalogue || []).forEach(function(f) {
                    var desc = f.kind + (f.unit ? ", " + f.unit : "");
                    $("<option>").attr("value", f.name).text(desc).appendTo(datalist);
                });
            }
            function cell(row, cls, width, placeholder, value) {
                return $('<input type="text" class="' + cls + '">')
                    .css({ width: width })
                    .attr("placeholder", placeholder)
                    .val(value === undefined || value === null ? "" : value)
                    .appendTo(row);
            }
            fieldsList.css({ "min-height": "150px", "min-width": "450px" }).editableList({
                addButton: "field",
                removable: true,
                sortable: true,
                header: $("<div>").css({ display: "flex", gap: "6px", "padding-left": "28px", "font-size": "0.9em", opacity: 0.8 }).append(
                    $("<span>").css({ width: "40%" }).text("field").attr("title", "a field of the catalogue (type to search)"),
                    $("<span>").css({ width: "17%" }).text("interval (s)").attr("title", "interval_seconds: send when changed, at most this often (integer >= 1)"),
                    $("<span>").css({ width: "17%" }).text("min. delta").attr("title", "minimum_delta (optional): only send a numeric field when it changed by at least this much"),
                    $("<span>").css({ width: "17%" }).text("resend (s)").attr("title", "resend_interval_seconds (optional, firmware 2024.44.32+): resend unchanged values this often")
                ),
                addItem: function(container, index, data) {
                    container.css({ display: "flex", gap: "6px", "align-items": "center" });
                    cell(container, "node-input-tc-f-name", "40%", "BatteryLevel", data.name).attr("list", "node-input-tc-field-names");
                    cell(container, "node-input-tc-f-interval", "17%", "60", data.interval_seconds === undefined ? 60 : data.interval_seconds);
                    cell(container, "node-input-tc-f-delta", "17%", "optional", data.minimum_delta);
                    cell(container, "node-input-tc-f-resend", "17%", "optional", data.resend_interval_seconds);
                    container.find("input").on("change keyup input", update);
                    update();
                },
                removeItem: function() { update(); },
                sortItems: function() { update(); }
            });
            function setFields(fields) {
                fieldsList.editableList("empty");
                tcFieldRows(fields).forEach(function(r) {
                    var d = clone(r.setting);
                    d.name = r.name;
                    fieldsList.editableList("addItem", d);
                });
                update();
            }
            function readFields() {
                var rows = [];
                fieldsList.editableList("items").each(function() {
                    var c = $(this);
                    var row = {
                        name: c.find(".node-input-tc-f-name").val().trim(),
                        interval_seconds: c.find(".node-input-tc-f-interval").val().trim()
                    };
                    var d = c.find(".node-input-tc-f-delta").val().trim();
                    var r = c.find(".node-input-tc-f-resend").val().trim();
                    if (d !== "") { row.minimum_delta = d; }
                    if (r !== "") { row.resend_interval_seconds = r; }
                    rows.push(row);
                });
                return rows;
            }
            // Rows → the stored object; numeric strings become numbers (validated before).
            function fieldsObject(rows) {
                var out = {};
                rows.forEach(function(r) {
                    if (!r.name) { return; }
                    var f = { interval_seconds: tcToNumber(r.interval_seconds) };
                    if (tcIsSet(r.minimum_delta)) { f.minimum_delta = tcToNumber(r.minimum_delta); }
                    if (tcIsSet(r.resend_interval_seconds)) { f.resend_interval_seconds = tcToNumber(r.resend_interval_seconds); }
                    out[r.name] = f;
                });
                return out;
            }

            // ---- presets
            function showPresets() {
                var bar = $("#node-input-tc-presets").empty();
                Object.keys(presets).forEach(function(key) {
                    var p = presets[key];
                    $('<button type="button" class="red-ui-button red-ui-button-small">')
                        .text(p.label || key)
                        .attr("title", (p.description ? p.description + " " : "") + "Replaces the fields below: " + Object.keys(p.fields).join(", "))
                        .css({ "margin-right": "4px" })
                        .on("click", function(e) { e.preventDefault(); setFields(clone(p.fields)); })
                        .appendTo(bar);
                });
            }

            // ---- CA check through the admin endpoint
            $("#node-input-tc-ca-check").on("click", function(e) {
                e.preventDefault();
                var out = $("#node-input-tc-ca-info").removeClass("tc-ok tc-bad").text("checking…");
                $.ajax({
                    url: "telemetry-config/ca-info",
                    type: "POST",
                    contentType: "application/json",
                    dataType: "json",
                    data: JSON.stringify({ pem: $("#node-input-ca").val() })
                }).done(function(info) {
                    var text = (info.subject || "(no subject)") + " — valid until " + info.validTo +
                        (info.expired ? " — EXPIRED" : "") + (info.isCa === false ? " — not a CA certificate" : "") +
                        (info.count > 1 ? " (" + info.count + " certificates)" : "");
                    out.addClass(info.expired ? "tc-bad" : "tc-ok").text(text).attr("title", "SHA-256 " + (info.fingerprint256 || ""));
                }).fail(function(xhr) {
                    var msg = (xhr.responseJSON && (xhr.responseJSON.error || xhr.responseJSON.message)) || xhr.responseText || xhr.statusText || "request failed";
                    out.addClass("tc-bad").text(String(msg));
                });
            });

            // ---- live preview and problems
            function currentProps() {
                return {
                    hostname: $("#node-input-hostname").val(),
                    port: $("#node-input-tc-port").val(),
                    ca: $("#node-input-ca").val(),
                    fields: readFields(),
                    alertTypes: $("#node-input-alertTypes").val(),
                    preferTyped: $("#node-input-preferTyped").prop("checked"),
                    vins: $("#node-input-vins").val(),
                    exp: expValue()
                };
            }
            var updating = false;
            function update() {
                if (updating) { return; }
                updating = true;
                setTimeout(function() {
                    updating = false;
                    var props = currentProps();
                    var action = $("#node-input-action").val();
                    var body = tcBuildBody(props);
                    preview.text(JSON.stringify(body, null, 2));
                    $("#node-input-tc-preview-label").text(action === "register" ?
                        "Body of POST /api/1/vehicles/fleet_telemetry_config" :
                        "Body the register action sends (this node's action: " + action + ")");
                    var r = tcCheck(props, knownFields);
                    $(".tc-invalid").removeClass("tc-invalid");
                    var ids = { hostname: "#node-input-hostname", port: "#node-input-tc-port", ca: "#node-input-ca", vins: "#node-input-vins", exp: "#node-input-tc-exp" };
                    r.errors.forEach(function(e) { var k = e.input.split(/[.\[]/)[0]; if (ids[k]) { $(ids[k]).addClass("tc-invalid"); } });
                    problems.empty();
                    r.errors.forEach(function(e) { $("<li>").addClass("tc-bad").text(e.input + ": " + e.message).appendTo(problems); });
                    r.warnings.forEach(function(e) { $("<li>").text(e.input + ": " + e.message).appendTo(problems); });
                    if (!r.errors.length && !r.warnings.length) { $("<li>").addClass("tc-ok").text("no problems found (the CA is checked with the check button, and again before each call)").appendTo(problems); }
                }, 0);
            }

            $("#node-input-hostname, #node-input-tc-port, #node-input-ca, #node-input-alertTypes, #node-input-vins, #node-input-tc-exp")
                .on("change keyup input", update);
            $("#node-input-preferTyped, #node-input-action").on("change", update);

            setFields(node.fields || {});
            showPresets();
            loadRuntimeLists().always(function() {
                fillDatalist();
                showPresets();
                update();
            });
            node._tcReadFields = function() { return fieldsObject(readFields()); };
            node._tcExpValue = expValue;
        },
        oneditsave: function() {
            var portText = String($("#node-input-tc-port").val() || "").trim();
            var port = tcParsePort(portText);
            this.port = port !== null ? port : portText;   // invalid text stays, flagged by validate
            if (this._tcReadFields) { this.fields = this._tcReadFields(); }
            if (this._tcExpValue) { this.exp = this._tcExpValue(); }
            delete this._tcReadFields;
            delete this._tcExpValue;
        },
        oneditcancel: function() {
            delete this._tcReadFields;
            delete this._tcExpValue;
        },
        oneditresize: function(size) {
            var rows = $("#dialog-form>div:not(.node-input-tc-fields-row)");
            var height = size.height;
            for (var i = 0; i < rows.length; i++) { height -= $(rows[i]).outerHeight(true); }
            var editorRow = $("#dialog-form>div.node-input-tc-fields-row");
            height -= (parseInt(editorRow.css("marginTop"), 10) + parseInt(editorRow.css("marginBottom"), 10));
            $("#node-input-tc-fields").editableList("height", Math.max(150, Math.min(height, 400)));
        }
    });
})();
