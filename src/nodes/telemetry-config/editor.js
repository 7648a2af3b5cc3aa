(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("telemetry-config");
    var ACTIONS = ["check", "register", "status", "errors", "delete", "doctor", "ensure", "usage"];
    // The runtime's limit for ensureEvery (a week); its own error names it too.
    var ENSURE_EVERY_MAX = 168;
    // The node's settings the register body is built from (and checked).
    var SETTINGS = ["hostname", "port", "ca", "fields", "alertTypes", "preferTyped", "vins", "exp"];

    function clone(o) { return JSON.parse(JSON.stringify(o)); }
    function isSet(v) { return v !== undefined && v !== null && String(v).trim() !== ""; }

    // ---- The runtime's verdict. POST telemetry-config/preview answers {body, errors, warnings}
    // for a set of settings, from the library code the node itself runs: the preview and every
    // check below are its answers, the editor computes none of them. Errors and warnings are
    // [{input, message}], input being "hostname", "port", "ca", "fields", "fields.<Name>", "vins", "exp"…
    function preview(settings) { return E.postJson("telemetry-config/preview", settings); }
    function firstError(answer, input) {
        var errors = (answer && answer.errors) || [];
        for (var i = 0; i < errors.length; i++) {
            var at = errors[i].input;
            if (at === input || at.indexOf(input + ".") === 0 || at.indexOf(input + "[") === 0) { return errors[i].message; }
        }
        return null;
    }

    // A node whose dialog is closed (imported, deployed, saved) is judged on its saved settings:
    // asked once per distinct settings; on the answer the node is validated again.
    var saved = {};   // node id -> {key, answer}
    var asking = {};  // node id -> key of the question on its way
    function verdictOnSaved(node) {
        var settings = {};
        SETTINGS.forEach(function(k) { settings[k] = node[k]; });
        var key = JSON.stringify(settings);
        if (saved[node.id] && saved[node.id].key === key) { return saved[node.id].answer; }
        if (asking[node.id] !== key) {
            asking[node.id] = key;
            preview(settings).done(function(answer) {
                saved[node.id] = { key: key, answer: answer };
                if (RED.nodes.node(node.id) === node) {
                    RED.editor.validateNode(node);
                    RED.view.redraw();
                }
            }).always(function() {
                if (asking[node.id] === key) { delete asking[node.id]; }
            });
        }
        return null; // not known yet: the runtime checks again before each call
    }
    // While a node's dialog is open: the answer on the dialog's current values.
    var dialog = null; // {id, answer}
    function verdictOf(node) {
        return dialog && dialog.id === node.id ? dialog.answer : verdictOnSaved(node);
    }
    // A setting as the open dialog has it (for the node whose dialog is open), else as saved.
    function current(node, prop) {
        var input = $("#node-input-" + prop);
        return dialog && dialog.id === node.id && input.length ? input.val() : node[prop];
    }
    function chosen(id) { return isSet(id) && id !== "_ADD_"; }
    // A config node setting: empty is fine when `optional` says so; otherwise a node of the flow.
    function configRule(optional) {
        return function(s) { return chosen(s) ? !!RED.nodes.node(s) : optional.call(this); };
    }
    // A `validate` answering the runtime's first error for `input`. Hostname and port may stay
    // empty while the node does not register (the runtime requires them for register only).
    function byRuntime(input, emptyIsFine) {
        return function(v, opt) {
            if (emptyIsFine && !isSet(v)) { return true; }
            var message = firstError(verdictOf(this), input);
            return message ? (opt ? message : false) : true;
        };
    }

    RED.nodes.registerType("telemetry-config", {
        category: "tesla",
        color: "#E8E8E8",
        paletteLabel: _("telemetry-config.paletteLabel"),
        icon: "tesla.svg",
        inputs: 1,
        outputs: 1,
        outputLabels: [_("telemetry-config.output.results")],
        defaults: {
            name: { value: "" },
            // usage reads the broker only; every other action calls the Fleet API.
            account: { value: "", type: "tesla-account", label: _("telemetry-config.label.account"),
                validate: E.rule(configRule(function() { return current(this, "action") === "usage"; }), _("telemetry-config.errors.account")) },
            action: { value: "status", label: _("telemetry-config.label.action"),
                validate: E.rule(E.is.oneOf(ACTIONS), _("telemetry-config.errors.action", { actions: ACTIONS.join(", ") })) },
            broker: { value: "", type: "telemetry-broker", label: _("telemetry-config.label.broker"),
                validate: E.rule(configRule(function() {
                    return current(this, "action") !== "usage" && current(this, "fieldsFrom") !== "flow";
                }), _("telemetry-config.errors.broker")) },
            // Flows saved before these settings existed run with the runtime's defaults.
            ensureEvery: { value: 0, label: _("telemetry-config.label.ensureEvery"),
                validate: E.rule(E.is.optional(function(s) { var n = Number(s); return n >= 0 && n <= ENSURE_EVERY_MAX; }),
                    _("telemetry-config.errors.ensureEvery", { max: ENSURE_EVERY_MAX })) },
            dailyBudget: { value: 0, label: _("telemetry-config.label.dailyBudget"),
                validate: E.rule(E.is.optional(E.is.wholeAtLeast(0)), _("telemetry-config.errors.dailyBudget")) },
            fieldsFrom: { value: "node", validate: E.rule(E.is.optional(E.is.oneOf(["node", "flow"])), _("telemetry-config.errors.fieldsFrom")) },
            defaultInterval: { value: 60, label: _("telemetry-config.label.defaultInterval"),
                validate: E.rule(E.is.optional(E.is.wholeAtLeast(1)), _("telemetry-config.errors.defaultInterval")) },
            vins: { value: "", label: _("telemetry-config.label.vins") },
            hostname: { value: "", label: _("telemetry-config.label.hostname"), validate: byRuntime("hostname", true) },
            port: { value: 4433, label: _("telemetry-config.label.port"), validate: byRuntime("port", true) },
            ca: { value: "", label: _("telemetry-config.label.ca") },
            // Empty for a new node: its dialog starts with the runtime's first preset. With the
            // fields from the flow, a closed node's table may well be empty: the runtime derives
            // the fields (and names what is wrong) before each call. usage sends no config.
            fields: { value: {}, label: _("telemetry-config.label.fields"), validate: function(v, opt) {
                if (current(this, "action") === "usage") { return true; }
                if (current(this, "fieldsFrom") === "flow" && !(dialog && dialog.id === this.id)) { return true; }
                return byRuntime("fields").call(this, v, opt);
            } },
            alertTypes: { value: "" },
            preferTyped: { value: true },
            exp: { value: "", label: _("telemetry-config.label.exp"), validate: byRuntime("exp") }
        },
        label: function() {
            if (this.name) { return this.name; }
            return _("telemetry-config.nodeLabel", { action: this.action || "status" }) + (this.hostname ? " · " + this.hostname : "");
        },
        labelStyle: function() { return this.name ? "node_label_italic" : ""; },
        oneditprepare: function() {
            var node = this;
            var fieldsList = $("#node-input-tc-fields");
            var presets = {};
            var timer = null; // the preview's debounce
            var asked = 0;    // questions sent: only the answer to the last one is shown
            dialog = { id: node.id, answer: null };

            // A flow imported without preferTyped runs with the default, true: show it so.
            if (!isSet(node.preferTyped)) { $("#node-input-preferTyped").prop("checked", true); }
            if (ACTIONS.indexOf(node.action) < 0) { $("#node-input-action").val("status"); }
            // Settings a flow saved before they existed: the runtime's defaults.
            if (!isSet(node.fieldsFrom)) { $("#node-input-fieldsFrom").val("node"); }
            if (!isSet(node.defaultInterval)) { $("#node-input-defaultInterval").val(60); }
            if (!isSet(node.ensureEvery)) { $("#node-input-ensureEvery").val(0); }
            if (!isSet(node.dailyBudget)) { $("#node-input-dailyBudget").val(0); }

            // ---- port and expiry (kept out of node-input-<prop> so that oneditsave types them)
            $("#node-input-tc-port").val(isSet(node.port) ? node.port : "");
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
            if (isSet(node.exp) && isFinite(Number(node.exp)) && Number(node.exp) > 0) {
                $("#node-input-tc-exp").val(toLocalInput(Number(node.exp)));
            }
            $("#node-input-tc-exp-clear").on("click", function(e) {
                e.preventDefault();
                $("#node-input-tc-exp").val("");
                schedule();
            });

            // ---- fields table: one row per field, as the dialog's settings send them
            function cell(row, cls, width, placeholder, value) {
                return $('<input type="text" class="' + cls + '">')
                    .css({ width: width })
                    .attr("placeholder", placeholder)
                    .val(isSet(value) ? value : "")
                    .appendTo(row);
            }
            function heading(width, text, tip) {
                return $("<span>").css({ width: width }).text(text).attr("title", tip);
            }
            fieldsList.css({ "min-height": "150px", "min-width": "450px" }).editableList({
                addButton: _("telemetry-config.fields.add"),
                removable: true,
                sortable: true,
                header: $("<div>").css({ display: "flex", gap: "6px", "padding-left": "28px", "font-size": "0.9em", opacity: 0.8 }).append(
                    heading("40%", _("telemetry-config.fields.name"), _("telemetry-config.fields.nameTip")),
                    heading("17%", _("telemetry-config.fields.interval"), _("telemetry-config.fields.intervalTip")),
                    heading("17%", _("telemetry-config.fields.delta"), _("telemetry-config.fields.deltaTip")),
                    heading("17%", _("telemetry-config.fields.resend"), _("telemetry-config.fields.resendTip"))
                ),
                addItem: function(container, index, data) {
                    container.css({ display: "flex", gap: "6px", "align-items": "center" });
                    E.fieldAutocomplete(cell(container, "node-input-tc-f-name", "40%", "BatteryLevel", data.name), false);
                    cell(container, "node-input-tc-f-interval", "17%", "60", data.interval_seconds === undefined ? 60 : data.interval_seconds);
                    cell(container, "node-input-tc-f-delta", "17%", _("telemetry-config.fields.optional"), data.minimum_delta);
                    cell(container, "node-input-tc-f-resend", "17%", _("telemetry-config.fields.optional"), data.resend_interval_seconds);
                    container.find("input").on("change input", schedule);
                    schedule();
                },
                removeItem: function() { schedule(); },
                sortItems: function() { schedule(); }
            });
            // {Name: {interval_seconds, …}} (as stored) → one row each.
            function setFields(fields) {
                fieldsList.editableList("empty");
                Object.keys(fields || {}).forEach(function(name) {
                    var row = clone(fields[name]);
                    row.name = name;
                    fieldsList.editableList("addItem", row);
                });
                schedule();
            }
            // The rows as typed: [{name, interval_seconds, minimum_delta?, resend_interval_seconds?}].
            function readRows() {
                var rows = [];
                fieldsList.editableList("items").each(function() {
                    var c = $(this);
                    var row = { name: c.find(".node-input-tc-f-name").val().trim(), interval_seconds: c.find(".node-input-tc-f-interval").val().trim() };
                    var d = c.find(".node-input-tc-f-delta").val().trim();
                    var r = c.find(".node-input-tc-f-resend").val().trim();
                    if (d !== "") { row.minimum_delta = d; }
                    if (r !== "") { row.resend_interval_seconds = r; }
                    rows.push(row);
                });
                return rows;
            }
            var hadFields = Object.keys(node.fields || {}).length > 0;
            setFields(node.fields);

            // ---- presets, from the runtime (GET tesla-fleet-telemetry/presets, the first is the default)
            function showPresets() {
                var bar = $("#node-input-tc-presets").empty();
                Object.keys(presets).forEach(function(key) {
                    var p = presets[key];
                    $('<button type="button" class="red-ui-button red-ui-button-small">')
                        .text(p.label || key)
                        .attr("title", (p.description ? p.description + " " : "") + _("telemetry-config.fields.preset", { fields: Object.keys(p.fields).join(", ") }))
                        .css({ "margin-right": "4px" })
                        .on("click", function(e) { e.preventDefault(); setFields(p.fields); })
                        .appendTo(bar);
                });
            }
            E.getJson("tesla-fleet-telemetry/presets").done(function(answer) {
                presets = answer && typeof answer === "object" ? answer : {};
                showPresets();
                var first = presets[Object.keys(presets)[0]];
                if (!hadFields && first && !readRows().length) { setFields(first.fields); }
            });

            // ---- CA check, by the runtime
            $("#node-input-tc-ca-check").on("click", function(e) {
                e.preventDefault();
                var out = $("#node-input-tc-ca-info").removeClass("tc-ok tc-bad").removeAttr("title").text(_("telemetry-config.ca.checking"));
                E.checkPem($("#node-input-ca").val()).then(function(info) {
                    var text = _("telemetry-config.ca.info", { subject: info.subject || _("telemetry-config.ca.noSubject"), validTo: info.validTo }) +
                        (info.expired ? " — " + _("telemetry-config.ca.expired") : "") +
                        (info.isCa === false ? " — " + _("telemetry-config.ca.notCa") : "") +
                        (info.count > 1 ? " " + _("telemetry-config.ca.count", { count: info.count }) : "");
                    out.addClass(info.expired ? "tc-bad" : "tc-ok").text(text).attr("title", _("telemetry-config.ca.fingerprint", { fingerprint: info.fingerprint256 || "" }));
                }, function(reason) {
                    out.addClass("tc-bad").text(reason);
                });
            });

            // ---- live preview and checks: the dialog's values, sent to the runtime (debounced)
            function currentSettings() {
                return {
                    hostname: $("#node-input-hostname").val(),
                    port: $("#node-input-tc-port").val(),
                    ca: $("#node-input-ca").val(),
                    fields: readRows(),
                    alertTypes: $("#node-input-alertTypes").val(),
                    preferTyped: $("#node-input-preferTyped").prop("checked"),
                    vins: $("#node-input-vins").val(),
                    exp: expValue()
                };
            }
            var INPUTS = { hostname: "#node-input-hostname", port: "#node-input-tc-port", ca: "#node-input-ca", vins: "#node-input-vins", exp: "#node-input-tc-exp" };
            function problemText(p) { return p.message.indexOf(p.input) === 0 ? p.message : p.input + ": " + p.message; }
            function showAnswer(answer) {
                var problems = $("#node-input-tc-problems").empty();
                $(".tc-invalid").removeClass("tc-invalid");
                answer.errors.forEach(function(e) {
                    var at = e.input.split(/[.[]/)[0];
                    if (INPUTS[at]) { $(INPUTS[at]).addClass("tc-invalid"); }
                    if (e.input.indexOf("fields.") === 0) {
                        var name = e.input.slice(7);
                        fieldsList.find(".node-input-tc-f-name").filter(function() { return $(this).val().trim() === name; }).addClass("tc-invalid");
                    }
                    $("<li>").addClass("tc-bad").text(problemText(e)).appendTo(problems);
                });
                answer.warnings.forEach(function(w) { $("<li>").text(problemText(w)).appendTo(problems); });
                if (!answer.errors.length && !answer.warnings.length) {
                    $("<li>").addClass("tc-ok").text(_("telemetry-config.preview.noProblems")).appendTo(problems);
                }
                $("#node-input-tc-preview").text(JSON.stringify(answer.body, null, 2));
            }
            function showLabel() {
                var action = $("#node-input-action").val();
                $("#node-input-tc-preview-label").text(action === "register" ? _("telemetry-config.preview.register") :
                    _("telemetry-config.preview.other", { action: action }));
            }
            function schedule() {
                clearTimeout(timer);
                timer = setTimeout(send, 250);
            }

            // ---- fields from the flow: the runtime derives them (POST telemetry-config/fields-from-flow)
            // from the editor's telemetry-in nodes as they are now, deployed or not, and the tabs
            // (a disabled one deploys nothing): what the node will use once this is deployed.
            function fromFlow() { return $("#node-input-fieldsFrom").val() === "flow"; }
            function flowNodes() {
                var nodes = [];
                RED.nodes.eachWorkspace(function(ws) { nodes.push({ id: ws.id, type: "tab", disabled: !!ws.disabled }); });
                RED.nodes.eachNode(function(n) {
                    if (n.type === "telemetry-in") {
                        nodes.push({ id: n.id, type: n.type, name: n.name, z: n.z, d: !!n.d, broker: n.broker, fields: n.fields });
                    }
                });
                return nodes;
            }
            function flowFields(rows) {
                var broker = $("#node-input-broker").val();
                return E.postJson("telemetry-config/fields-from-flow", {
                    broker: chosen(broker) ? broker : "",
                    defaultInterval: $("#node-input-defaultInterval").val(),
                    fields: rows,
                    nodes: flowNodes()
                });
            }
            function showFlowFields(answer) {
                var box = $("#node-input-tc-flow-fields").empty().removeClass("tc-ok tc-bad");
                if (answer.error) {
                    box.addClass("tc-bad").text(_("telemetry-config.flow.failed", { reason: answer.error }));
                    return;
                }
                var names = Object.keys(answer.fields);
                box.addClass("tc-ok").text(_("telemetry-config.flow.derived", { fields: names.map(function(name) {
                    return _("telemetry-config.flow.field", { name: name, interval: answer.fields[name].interval_seconds });
                }).join(", ") }));
            }
            function showFlowRows() { $(".node-input-tc-flow-row").toggle(fromFlow()); }

            function send() {
                var question = ++asked;
                var settings = currentSettings();
                var stale = function() { return question !== asked || !dialog || dialog.id !== node.id; }; // a newer question is on its way, or the dialog closed
                var failed = function(xhr) {
                    if (question !== asked) { return; }
                    $("#node-input-tc-problems").empty().append($("<li>").addClass("tc-bad").text(_("telemetry-config.preview.failed", { reason: E.errorText(xhr) })));
                };
                var ask = function(derived) {
                    if (derived && derived.fields) { settings.fields = derived.fields; }
                    preview(settings).done(function(answer) {
                        if (stale()) { return; }
                        if (derived && derived.error) {
                            // No fields to send: the derivation's reason replaces what the table would have said.
                            answer.errors = [{ input: "fields", message: derived.error }].concat(answer.errors.filter(function(e) {
                                return e.input !== "fields" && e.input.indexOf("fields.") !== 0;
                            }));
                        }
                        dialog.answer = answer;
                        showAnswer(answer);
                        // Node-RED validates the dialog's inputs on keyup: again now, with this answer.
                        $("#node-input-hostname").trigger("keyup");
                    }).fail(failed);
                };
                if (!fromFlow()) { ask(null); return; }
                flowFields(settings.fields).done(function(derived) {
                    if (stale()) { return; }
                    showFlowFields(derived);
                    ask(derived);
                }).fail(failed);
            }
            $("#node-input-hostname, #node-input-tc-port, #node-input-ca, #node-input-alertTypes, #node-input-vins, #node-input-tc-exp")
                .on("change input", schedule);
            $("#node-input-preferTyped").on("change", schedule);
            $("#node-input-action").on("change", showLabel);
            $("#node-input-fieldsFrom").on("change", function() { showFlowRows(); schedule(); });
            $("#node-input-broker, #node-input-defaultInterval").on("change input", schedule);
            showLabel();
            showFlowRows();
            schedule();

            node._tcReadRows = readRows;
            node._tcExpValue = expValue;
        },
        oneditsave: function() {
            dialog = null;
            var portText = String($("#node-input-tc-port").val() || "").trim();
            // A whole number is stored as one; other text stays, for the runtime's check to name.
            this.port = /^\d+$/.test(portText) ? Number(portText) : portText;
            if (this._tcReadRows) {
                var fields = {};
                this._tcReadRows().forEach(function(r) {
                    if (!r.name) { return; }
                    var f = { interval_seconds: numberOr(r.interval_seconds) };
                    if (isSet(r.minimum_delta)) { f.minimum_delta = numberOr(r.minimum_delta); }
                    if (isSet(r.resend_interval_seconds)) { f.resend_interval_seconds = numberOr(r.resend_interval_seconds); }
                    fields[r.name] = f;
                });
                this.fields = fields;
            }
            if (this._tcExpValue) { this.exp = this._tcExpValue(); }
            delete this._tcReadRows;
            delete this._tcExpValue;
        },
        oneditcancel: function() {
            dialog = null;
            delete this._tcReadRows;
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

    // A decimal number typed in the table is stored as a number; anything else as typed, for the
    // runtime's check to name.
    function numberOr(text) {
        var s = String(text).trim();
        return /^-?\d+(\.\d+)?$/.test(s) ? Number(s) : s;
    }
})();
