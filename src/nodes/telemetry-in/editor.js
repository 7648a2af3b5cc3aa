(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("telemetry-in");
    var UNITS = ["sent", "metric", "imperial", "car"];

    RED.nodes.registerType("telemetry-in", {
        category: "tesla",
        color: "#C0DEED",
        paletteLabel: _("telemetry-in.paletteLabel"),
        icon: "tesla.svg",
        inputs: 0,
        outputs: 3,
        outputLabels: [_("telemetry-in.output.data"), _("telemetry-in.output.alerts"), _("telemetry-in.output.status")],
        defaults: {
            name: { value: "" },
            broker: { value: "", type: "telemetry-broker", required: true, label: _("telemetry-in.label.broker") },
            vins: { value: "", validate: E.rule(E.is.listOf(/^[A-Za-z0-9-]+$/), _("telemetry-in.errors.vins")) },
            fields: { value: "", validate: E.rule(E.is.listOf(/^[A-Za-z0-9_]+$/), _("telemetry-in.errors.fields")) },
            mode: { value: "field", validate: E.rule(E.is.oneOf(["field", "vehicle"]), _("telemetry-in.errors.mode")) },
            staleAfter: { value: 60, required: true, validate: E.rule(E.is.atLeast(0), _("telemetry-in.errors.staleAfter")) },
            retained: { value: "flag", validate: E.rule(E.is.oneOf(["flag", "ignore"]), _("telemetry-in.errors.retained")) },
            quietTime: { value: 250, required: true, validate: E.rule(E.is.atLeast(0), _("telemetry-in.errors.quietTime")) },
            // Optional: a node saved before units existed reads as "sent", the runtime's default.
            units: { value: "sent", validate: E.rule(E.is.optional(E.is.oneOf(UNITS)), _("telemetry-in.errors.units")) }
        },
        label: function() {
            return this.name || (_("telemetry-in.paletteLabel") + (this.vins ? " " + this.vins : ""));
        },
        labelStyle: function() {
            return this.name ? "node_label_italic" : "";
        },
        oneditprepare: function() {
            var fieldsInput = $("#node-input-fields");
            var warning = $("#telemetry-in-fields-warning");

            // Warns (does not block) about names not in the catalogue. While typing, the item after the
            // last comma is still being written: it is judged on change (blur or a completion picked).
            var checkNames = function(evt) {
                var value = fieldsInput.val();
                if (evt && evt.type !== "change") { value = value.slice(0, value.lastIndexOf(",") + 1); }
                E.catalogue().then(function(list) {
                    var known = {};
                    list.forEach(function(f) { known[f.name] = true; });
                    var unknown = !list.length ? [] : E.parseList(value).filter(function(s) {
                        return !known[s] && !/^[0-9]+$/.test(s) && /^[A-Za-z0-9_]+$/.test(s);
                    });
                    warning.find(".telemetry-in-unknown").text(_("telemetry-in.tip.unknownFields", { names: unknown.join(", ") }));
                    warning.toggle(unknown.length > 0);
                });
            };
            E.fieldAutocomplete(fieldsInput, true);
            fieldsInput.on("change keyup input", checkNames);
            checkNames();

            var showQuiet = function() {
                $(".telemetry-in-row-quiet").toggle($("#node-input-mode").val() === "vehicle");
            };
            $("#node-input-mode").on("change", showQuiet);
            showQuiet();
            if (UNITS.indexOf(this.units) < 0) { $("#node-input-units").val("sent"); }
        }
    });
})();
