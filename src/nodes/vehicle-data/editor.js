(function() {
    var ENDPOINTS = ["charge_state", "climate_state", "closures_state", "drive_state", "gui_settings",
        "location_data", "charge_schedule_data", "preconditioning_schedule_data", "vehicle_config", "vehicle_state"];
    var VIN_LIST = /^\s*[A-Za-z0-9-]*(\s*,\s*[A-Za-z0-9-]*)*\s*$/; // empty items are ignored

    // One rule per property: `test` says whether the value is fine; on Node-RED >= 3.1 (which passes
    // `opt`) a failure answers `reason`, on older editors false.
    function rule(test, reason) {
        return function(v, opt) { return test(v) ? true : (opt ? reason : false); };
    }
    function num(v) { return String(v).trim() === "" ? NaN : Number(v); }

    RED.nodes.registerType("vehicle-data", {
        category: "tesla",
        color: "#C0DEED",
        paletteLabel: "vehicle data",
        icon: "tesla.svg",
        inputs: 1,
        outputs: 1,
        inputLabels: "msg.vin",
        outputLabels: ["data, snapshot, asleep / offline"],
        defaults: {
            name: { value: "" },
            account: { value: "", type: "tesla-account", required: true, label: "Account" },
            broker: { value: "", type: "telemetry-broker", required: false },
            vins: { value: "", validate: rule(function(v) { return VIN_LIST.test(v || ""); },
                "VINs must be a comma-separated list of letters, digits and -") },
            mode: { value: "field", validate: rule(function(v) { return v === "field" || v === "vehicle"; },
                "Output must be field or vehicle") },
            auto: { value: false },
            staleAfter: { value: 60, required: true, validate: rule(function(v) { return num(v) > 0; },
                "Stale after must be a number of minutes above 0") },
            pollInterval: { value: 10, required: true, validate: rule(function(v) { return num(v) > 0; },
                "Poll every must be a number of minutes above 0") },
            endpoints: {
                value: "charge_state;drive_state;location_data;vehicle_state",
                required: true,
                validate: rule(function(v) {
                    var list = String(v || "").split(";").filter(function(e) { return e; });
                    return list.length > 0 && list.every(function(e) { return ENDPOINTS.indexOf(e) >= 0; });
                }, "Endpoints: choose at least one of " + ENDPOINTS.join(", "))
            },
            dailyBudget: { value: 0, required: true, validate: rule(function(v) {
                var n = num(v);
                return n >= 0 && Math.floor(n) === n;
            }, "Daily budget must be a whole number of calls, 0 for no limit") }
        },
        label: function() { return this.name || ("vehicle data" + (this.vins ? " " + this.vins : "")); },
        labelStyle: function() { return this.name ? "node_label_italic" : ""; },
        oneditprepare: function() {
            var hidden = $("#node-input-endpoints");
            var box = $("#vehicle-data-endpoints");
            var chosen = String(this.endpoints || "").split(";");
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
            var showAuto = function() {
                $(".vehicle-data-row-auto").toggle($("#node-input-auto").is(":checked"));
            };
            $("#node-input-auto").on("change", showAuto);
            showAuto();
        }
    });
})();
