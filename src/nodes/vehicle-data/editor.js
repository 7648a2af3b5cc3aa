(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("vehicle-data");
    var UNITS = ["sent", "metric", "imperial", "car"];
    // What vehicle_data can return (its `endpoints` parameter); the node stores them `;`-separated.
    var ENDPOINTS = ["charge_state", "climate_state", "closures_state", "drive_state", "gui_settings",
        "location_data", "charge_schedule_data", "preconditioning_schedule_data", "vehicle_config", "vehicle_state"];
    function endpointsOf(s) { return s.split(";").filter(function(e) { return e; }); }

    RED.nodes.registerType("vehicle-data", {
        category: "tesla",
        color: "#C0DEED",
        paletteLabel: _("vehicle-data.paletteLabel"),
        icon: "tesla.svg",
        inputs: 1,
        outputs: 1,
        inputLabels: _("vehicle-data.input.vin"),
        outputLabels: [_("vehicle-data.output.data")],
        defaults: {
            name: { value: "" },
            account: { value: "", type: "tesla-account", required: true, label: _("vehicle-data.label.account") },
            broker: { value: "", type: "telemetry-broker", required: false },
            vins: { value: "", validate: E.rule(E.is.listOf(/^[A-Za-z0-9-]+$/), _("vehicle-data.errors.vins")) },
            mode: { value: "field", validate: E.rule(E.is.oneOf(["field", "vehicle"]), _("vehicle-data.errors.mode")) },
            auto: { value: false },
            staleAfter: { value: 60, required: true, validate: E.rule(E.is.above(0), _("vehicle-data.errors.staleAfter")) },
            pollInterval: { value: 10, required: true, validate: E.rule(E.is.above(0), _("vehicle-data.errors.pollInterval")) },
            endpoints: {
                value: "charge_state;drive_state;location_data;vehicle_state",
                required: true,
                validate: E.rule(function(s) {
                    var list = endpointsOf(s);
                    return list.length > 0 && list.every(function(e) { return ENDPOINTS.indexOf(e) >= 0; });
                }, _("vehicle-data.errors.endpoints", { endpoints: ENDPOINTS.join(", ") }))
            },
            dailyBudget: { value: 0, required: true, validate: E.rule(E.is.wholeAtLeast(0), _("vehicle-data.errors.dailyBudget")) },
            // Optional: a node saved before units existed reads as "sent", the runtime's default.
            units: { value: "sent", validate: E.rule(E.is.optional(E.is.oneOf(UNITS)), _("vehicle-data.errors.units")) }
        },
        label: function() { return this.name || (_("vehicle-data.paletteLabel") + (this.vins ? " " + this.vins : "")); },
        labelStyle: function() { return this.name ? "node_label_italic" : ""; },
        oneditprepare: function() {
            var hidden = $("#node-input-endpoints");
            var box = $("#vehicle-data-endpoints");
            var chosen = endpointsOf(String(this.endpoints || ""));
            ENDPOINTS.forEach(function(e) {
                var label = $("<label>", { style: "display: inline-block; width: 50%; margin: 0;" }).appendTo(box);
                $("<input>", { type: "checkbox", value: e, style: "width: auto; margin: 0 5px 2px 0;" })
                    .prop("checked", chosen.indexOf(e) >= 0).appendTo(label);
                $("<code>").text(e).appendTo(label);
            });
            box.on("change", "input", function() {
                var list = box.find("input:checked").map(function() { return this.value; }).get();
                hidden.val(list.join(";")).trigger("change");
            });
            // Stale after also decides, with a broker, which inputs are answered free from the car state.
            var showAuto = function() {
                var auto = $("#node-input-auto").is(":checked");
                var broker = $("#node-input-broker").val();
                $(".vehicle-data-row-auto").toggle(auto);
                $(".vehicle-data-row-stale").toggle(auto || (!!broker && broker !== "_ADD_"));
            };
            $("#node-input-auto, #node-input-broker").on("change", showAuto);
            showAuto();
            if (UNITS.indexOf(this.units) < 0) { $("#node-input-units").val("sent"); }
        }
    });
})();
