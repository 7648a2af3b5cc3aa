(function() {
    // A rule answers true, or on failure the reason (Node-RED >= 3.1 passes `opt`) or false (older editors).
    function rule(test, reason) {
        return function(v, opt) { return test.call(this, String(v == null ? "" : v).trim()) ? true : (opt ? reason : false); };
    }
    function usesTls(url) { return /^(mqtts|wss):\/\//i.test(String(url || "").trim()); }
    function parses(url) { try { return !!new URL(url); } catch (e) { return false; } }
    var PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/;

    RED.nodes.registerType("telemetry-broker", {
        category: "config",
        paletteLabel: "telemetry broker",
        defaults: {
            name: { value: "" },
            url: { value: "mqtt://127.0.0.1:1883", required: true, label: "Broker URL", validate: rule(function(s) {
                return /^(mqtts?|wss?):\/\/[^\s\/?#]+/i.test(s) && parses(s);
            }, "Broker URL must be mqtt://, mqtts://, ws:// or wss:// followed by a host") },
            topicBase: { value: "telemetry", validate: rule(function(s) { return !/[+#]/.test(s); },
                "Topic base must not contain + or #") },
            // Unchecked "Clean session" (a persistent session) needs a fixed client id.
            clientId: { value: "", validate: rule(function(s) {
                var box = $("#node-config-input-clean");
                var clean = box.length ? box.is(":checked") : this.clean !== false && this.clean !== "false";
                return clean || s !== "";
            }, "A persistent session (Clean session unchecked) needs a client ID") },
            ca: { value: "", validate: rule(function(s) { return !s || PEM.test(s); },
                "CA must be PEM text: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----") },
            sharedGroup: { value: "", validate: rule(function(s) { return !/[\/+#]/.test(s); },
                "Shared group must not contain /, + or #") },
            clean: { value: true },
            reconnectPeriod: { value: 5, required: true, label: "Reconnect after", validate: rule(function(s) {
                return s !== "" && Number(s) >= 0.1;
            }, "Reconnect after must be a number of seconds, at least 0.1") }
        },
        credentials: {
            username: { type: "text" },
            password: { type: "password" }
        },
        label: function() {
            return this.name || this.url || "telemetry broker";
        },
        oneditprepare: function() {
            var showCa = function() {
                $(".telemetry-broker-row-ca").toggle(usesTls($("#node-config-input-url").val()));
            };
            $("#node-config-input-url").on("change keyup input", showCa);
            showCa();
            $("#node-config-input-clean").on("change", function() {
                $("#node-config-input-clientId").trigger("change");
            });
            var showBase = function() {
                var base = $("#node-config-input-topicBase").val();
                var group = $.trim($("#node-config-input-sharedGroup").val());
                var prefix = group ? "$share/" + group + "/" : "";
                $("#telemetry-broker-topics").text(prefix + base + "/+/v/+  ·  " + prefix + base + "/+/connectivity  · …");
            };
            $("#node-config-input-topicBase, #node-config-input-sharedGroup").on("change keyup input", showBase);
            showBase();
        }
    });
})();
