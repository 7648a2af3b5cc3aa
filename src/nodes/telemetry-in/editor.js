(function() {
    // The field catalogue ([{name, kind, unit, …}]), fetched once per editor session from the runtime.
    var catalogue = null;
    var catalogueRequest = null;
    function loadCatalogue(done) {
        if (catalogue) { return done(catalogue); }
        if (!catalogueRequest) {
            catalogueRequest = $.getJSON("tesla-fleet-telemetry/fields").then(function(list) {
                catalogue = Array.isArray(list) ? list : [];
                return catalogue;
            }, function() {
                catalogueRequest = null; // try again next time the dialog opens
                return [];
            });
        }
        catalogueRequest.then(done);
    }
    function items(v) {
        return String(v || "").split(",").map(function(s) { return s.trim(); }).filter(function(s) { return s; });
    }
    // A rule answers true, or on failure the reason (Node-RED >= 3.1 passes `opt`) or false (older editors).
    function rule(test, reason) {
        return function(v, opt) { return test(v) ? true : (opt ? reason : false); };
    }
    function atLeast(min) { return function(v) { return String(v).trim() !== "" && Number(v) >= min; }; }
    function each(re) { return function(v) { return items(v).every(function(s) { return re.test(s); }); }; }

    RED.nodes.registerType("telemetry-in", {
        category: "tesla",
        color: "#C0DEED",
        paletteLabel: "telemetry in",
        icon: "tesla.svg",
        inputs: 0,
        outputs: 3,
        outputLabels: ["data", "alerts & errors", "status: connectivity, stale, fresh"],
        defaults: {
            name: { value: "" },
            broker: { value: "", type: "telemetry-broker", required: true, label: "Broker" },
            vins: { value: "", validate: rule(each(/^[A-Za-z0-9-]+$/),
                "VINs must be a comma-separated list of letters, digits and -") },
            fields: { value: "", validate: rule(each(/^[A-Za-z0-9_]+$/),
                "Fields must be a comma-separated list of field names or numbers") },
            mode: { value: "field", validate: rule(function(v) { return v === "field" || v === "vehicle"; },
                "Output must be field or vehicle") },
            staleAfter: { value: 60, required: true, validate: rule(atLeast(0),
                "Stale after must be a number of minutes, 0 or more") },
            retained: { value: "flag", validate: rule(function(v) { return v === "flag" || v === "ignore"; },
                "Retained must be flag or ignore") },
            quietTime: { value: 250, required: true, validate: rule(atLeast(0),
                "Quiet time must be a number of milliseconds, 0 or more") }
        },
        label: function() {
            return this.name || ("telemetry in" + (this.vins ? " " + this.vins : ""));
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
                if (!catalogue || !catalogue.length) { warning.hide(); return; }
                var known = {};
                catalogue.forEach(function(f) { known[f.name] = true; });
                var value = fieldsInput.val();
                if (evt && evt.type !== "change") { value = value.slice(0, value.lastIndexOf(",") + 1); }
                var unknown = items(value).filter(function(s) {
                    return !known[s] && !/^[0-9]+$/.test(s) && /^[A-Za-z0-9_]+$/.test(s);
                });
                if (unknown.length) {
                    warning.find("span").text(unknown.join(", "));
                    warning.show();
                } else {
                    warning.hide();
                }
            };

            // Completes the item after the last comma; keeps what is before it.
            var search = function(value, done) {
                loadCatalogue(function(list) {
                    var cut = value.lastIndexOf(",");
                    var head = cut < 0 ? "" : value.slice(0, cut + 1) + " ";
                    var term = value.slice(cut + 1).trim().toLowerCase();
                    var chosen = items(value.slice(0, cut + 1));
                    var hits = list.filter(function(f) {
                        return chosen.indexOf(f.name) < 0 && f.name.toLowerCase().indexOf(term) >= 0;
                    });
                    hits.sort(function(a, b) {
                        var d = a.name.toLowerCase().indexOf(term) - b.name.toLowerCase().indexOf(term);
                        return d || (a.name < b.name ? -1 : 1);
                    });
                    done(hits.slice(0, 50).map(function(f) {
                        var label = $("<div>", { style: "display: flex; justify-content: space-between;" });
                        $("<span>").text(f.name).appendTo(label);
                        $("<span>", { style: "opacity: 0.6; margin-left: 10px;" })
                            .text(f.kind + (f.unit ? " · " + f.unit : "")).appendTo(label);
                        return { value: head + f.name, label: label };
                    }));
                });
            };
            if ($.fn.autoComplete) {
                fieldsInput.autoComplete({ search: search, minLength: 1 });
            }
            fieldsInput.on("change keyup input", checkNames);
            loadCatalogue(function() { checkNames(); });

            var showQuiet = function() {
                $(".telemetry-in-row-quiet").toggle($("#node-input-mode").val() === "vehicle");
            };
            $("#node-input-mode").on("change", showQuiet);
            showQuiet();
        }
    });
})();
