(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("telemetry-broker");
    function usesTls(url) { return /^(mqtts|wss):\/\//i.test(String(url || "").trim()); }
    function dollars(usd) { return usd.toFixed(usd < 0.1 ? 4 : 2); }

    // What the deployed broker's stream costs today (GET tesla-fleet-telemetry/usage/<id>, the
    // runtime's own counts and advice): one row per VIN with its total, one per field below it.
    function showUsage(box, report) {
        box.empty();
        $("<div>").text(_("telemetry-broker.usage.summary", { day: report.day, signals: report.total.signals, usd: dollars(report.total.usd) })).appendTo(box);
        var vins = Object.keys(report.vins);
        if (!vins.length) {
            $("<div>").text(_("telemetry-broker.usage.none")).appendTo(box);
            return;
        }
        var table = $("<table>").appendTo(box);
        $("<tr>").append(
            $("<th>").text(_("telemetry-broker.usage.vin")),
            $("<th>").addClass("tb-num").text(_("telemetry-broker.usage.signals")),
            $("<th>").addClass("tb-num").text(_("telemetry-broker.usage.usd"))
        ).appendTo(table);
        function row(cls, name, signals, usd) {
            return $("<tr>").addClass(cls).append(
                $("<td>").text(name),
                $("<td>").addClass("tb-num").text(signals),
                $("<td>").addClass("tb-num").text(usd === null ? "" : dollars(usd))
            ).appendTo(table);
        }
        vins.forEach(function(vin) {
            var v = report.vins[vin];
            row("tb-vin", vin, v.signals, v.usd);
            Object.keys(v.fields).forEach(function(field) {
                var n = v.fields[field];
                row("tb-field", "\u00a0\u00a0" + field, n, n / report.signalsPerDollar);
            });
        });
        if (report.advice.length) {
            $("<div>").css({ "margin-top": "4px", "font-weight": "bold" }).text(_("telemetry-broker.usage.advice")).appendTo(box);
            var list = $("<ul>").appendTo(box);
            report.advice.forEach(function(a) {
                $("<li>").text(_("telemetry-broker.usage.adviceItem", { vin: a.vin, field: a.field, delta: a.minimumDelta, saves: a.savesPerDay })).appendTo(list);
            });
        }
    }
    // Read once when the dialog opens, then every 10 s while it stays open (the counts move).
    var usageTimer = null;
    function stopUsage() {
        clearInterval(usageTimer);
        usageTimer = null;
    }
    function loadUsage(id) {
        stopUsage();
        $("#telemetry-broker-usage").empty().text(_("telemetry-broker.usage.loading"));
        readUsage(id);
        usageTimer = setInterval(function() { readUsage(id); }, 10000);
    }
    function readUsage(id) {
        var box = $("#telemetry-broker-usage");
        if (!box.length) { stopUsage(); return; }
        $.ajax({ url: "tesla-fleet-telemetry/usage/" + encodeURIComponent(id), dataType: "json", cache: false }).done(function(report) {
            showUsage(box, report);
        }).fail(function(xhr) {
            box.empty().append(xhr.status === 404
                ? $("<div>").text(_("telemetry-broker.usage.notDeployed"))
                : $("<div>").addClass("tb-bad").text(_("telemetry-broker.usage.failed", { reason: E.errorText(xhr) })));
        });
    }

    RED.nodes.registerType("telemetry-broker", {
        category: "config",
        paletteLabel: _("telemetry-broker.paletteLabel"),
        defaults: {
            name: { value: "" },
            url: { value: "mqtt://127.0.0.1:1883", required: true, label: _("telemetry-broker.label.url"),
                validate: E.rule(E.is.url(["mqtt", "mqtts", "ws", "wss"]), _("telemetry-broker.errors.url")) },
            topicBase: { value: "telemetry", validate: E.rule(E.is.without(/[+#]/), _("telemetry-broker.errors.topicBase")) },
            // Unchecked "Clean session" (a persistent session) needs a fixed client id.
            clientId: { value: "", validate: E.rule(function(s) {
                var box = $("#node-config-input-clean");
                var clean = box.length ? box.is(":checked") : this.clean !== false && this.clean !== "false";
                return clean || s !== "";
            }, _("telemetry-broker.errors.clientId")) },
            ca: { value: "", validate: E.rule(E.is.optional(E.is.pem), _("telemetry-broker.errors.ca")) },
            usetls: { value: false },
            tls: { type: "tls-config", required: false, label: _("telemetry-broker.label.tls") },
            persist: { value: true },
            sharedGroup: { value: "", validate: E.rule(E.is.without(/[/+#]/), _("telemetry-broker.errors.sharedGroup")) },
            clean: { value: true },
            reconnectPeriod: { value: 5, required: true, label: _("telemetry-broker.label.reconnectPeriod"),
                validate: E.rule(E.is.atLeast(0.1), _("telemetry-broker.errors.reconnectPeriod")) }
        },
        credentials: {
            username: { type: "text" },
            password: { type: "password" }
        },
        label: function() {
            return this.name || this.url || _("telemetry-broker.paletteLabel");
        },
        oneditsave: function() {
            stopUsage();
            if (!$("#node-config-input-usetls").is(":checked")) { $("#node-config-input-tls").val("_ADD_"); }
        },
        oneditcancel: function() { stopUsage(); },
        oneditdelete: function() { stopUsage(); },
        oneditprepare: function() {
            var showCa = function() {
                $(".telemetry-broker-row-ca").toggle(usesTls($("#node-config-input-url").val()));
            };
            $("#node-config-input-url").on("change keyup input", showCa);
            showCa();
            // A tls-config node (client certificate, CA, verification) only with "Use TLS" ticked.
            if (this.usetls === undefined) { $("#node-config-input-usetls").prop("checked", !!this.tls); }
            var showTls = function() {
                $(".telemetry-broker-row-tls").toggle($("#node-config-input-usetls").is(":checked"));
            };
            $("#node-config-input-usetls").on("change", showTls);
            showTls();
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
            loadUsage(this.id);
        }
    });
})();
