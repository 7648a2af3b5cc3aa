(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("vehicle-command");
    var VIN = /^[A-Za-z0-9]{17}$/;
    // The command table and the prices of a command and a wake, from the runtime (one table:
    // src/lib/commands/table.ts): {commands: [{name, params, opensCar, confirmedBy}], price}.
    var table = null;
    var loading = null;
    // The node whose dialog shows the parameter inputs built from the table (null: not built).
    var renderedFor = null;
    function loadTable() {
        if (!loading) {
            loading = E.getJson("tesla-fleet-telemetry/commands").done(function(t) { table = t; });
            loading.fail(function() { loading = null; });
        }
        return loading;
    }
    function commandOf(name) {
        return table ? table.commands.filter(function(c) { return c.name === name; })[0] || null : null;
    }
    function trimmed(v) { return String(v === undefined || v === null ? "" : v).trim(); }
    function number(v) { var s = trimmed(v); return s === "" ? NaN : Number(s); }
    var list = E.parseList;
    function usd(x) { return "$" + x.toFixed(x < 0.01 ? 3 : 2); }
    function accepts(p, v) {
        if (p.type === "boolean") { return typeof v === "boolean"; }
        return typeof v === "number" && Math.floor(v) === v && v >= p.min && v <= p.max;
    }

    RED.nodes.registerType("vehicle-command", {
        category: "tesla",
        color: "#C0DEED",
        paletteLabel: _("vehicle-command.paletteLabel"),
        icon: "vehicle-command.svg",
        inputs: 1,
        outputs: 1,
        inputLabels: function() { return _("vehicle-command.input.command"); },
        outputLabels: function() { return _("vehicle-command.output.answer"); },
        defaults: {
            name: { value: "" },
            account: { value: "", type: "tesla-account", required: true },
            broker: { value: "", type: "telemetry-broker", required: false },
            vins: { value: "", validate: function(v, opt) {
                return list(v).every(function(s) { return VIN.test(s); }) ? true : (opt ? _("vehicle-command.errors.vins") : false);
            } },
            command: { value: "", validate: function(v, opt) {
                var name = trimmed(v);
                var c = commandOf(name);
                if (name !== "" && table && !c) { return opt ? _("vehicle-command.errors.command") : false; }
                if (c && c.opensCar && this.allowUnlock !== true) { return opt ? _("vehicle-command.errors.allowUnlock") : false; }
                return true;
            } },
            params: { value: {}, validate: function(v, opt) {
                var c = commandOf(trimmed(this.command));
                var given = v && typeof v === "object" ? v : {};
                var ok = !c || c.params.every(function(p) { return given[p.name] === undefined || accepts(p, given[p.name]); });
                return ok ? true : (opt ? _("vehicle-command.errors.params") : false);
            } },
            wake: { value: "never", validate: function(v, opt) {
                return v === "never" || v === "allow" ? true : (opt ? _("vehicle-command.errors.wake") : false);
            } },
            allowUnlock: { value: false },
            minInterval: { value: 0, required: true, validate: function(v, opt) {
                return number(v) >= 0 ? true : (opt ? _("vehicle-command.errors.minInterval") : false);
            } },
            verify: { value: 60, required: true, validate: function(v, opt) {
                return number(v) >= 0 ? true : (opt ? _("vehicle-command.errors.verify") : false);
            } },
            dailyBudget: { value: 0, required: true, validate: function(v, opt) {
                var n = number(v);
                return n >= 0 && Math.floor(n) === n ? true : (opt ? _("vehicle-command.errors.dailyBudget") : false);
            } }
        },
        label: function() { return this.name || this.command || _("vehicle-command.paletteLabel"); },
        labelStyle: function() { return this.name ? "node_label_italic" : ""; },
        oneditprepare: function() {
            var node = this;
            var select = $("#node-input-command");
            var saved = $.extend({}, node.params || {});
            renderedFor = null;

            function render() {
                var c = commandOf(select.val());
                var box = $("#vehicle-command-params").empty();
                $("#vehicle-command-from-msg").toggle(!select.val());
                $("#vehicle-command-about").toggle(!!c);
                if (!c) { return; }
                c.params.forEach(function(p) {
                    var row = $("<div>", { class: "form-row" }).appendTo(box);
                    $("<label>").append($("<i>", { class: "fa fa-sliders" }), " ", $("<code>").text(p.name)).appendTo(row);
                    var value = saved[p.name];
                    if (p.type === "boolean") {
                        var choose = $("<select>", { class: "vehicle-command-param", style: "width: 70%;" })
                            .data("name", p.name).data("type", p.type).appendTo(row);
                        $("<option>", { value: "" }).text(node._("vehicle-command.option.fromPayload")).appendTo(choose);
                        $("<option>", { value: "true" }).text(node._("vehicle-command.option.true")).appendTo(choose);
                        $("<option>", { value: "false" }).text(node._("vehicle-command.option.false")).appendTo(choose);
                        choose.val(typeof value === "boolean" ? String(value) : "");
                    } else {
                        $("<input>", { type: "number", class: "vehicle-command-param", min: p.min, max: p.max, step: 1, style: "width: 80px;",
                            placeholder: node._("vehicle-command.placeholder.fromPayload") })
                            .data("name", p.name).data("type", p.type)
                            .val(typeof value === "number" ? value : "").appendTo(row);
                        $("<span>").text(" " + node._("vehicle-command.unit.range", { min: p.min, max: p.max })).appendTo(row);
                    }
                });
                var about = c.confirmedBy ? node._("vehicle-command.tip.confirmedBy", { field: c.confirmedBy }) : node._("vehicle-command.tip.notConfirmed");
                if (c.params.length) { about += " " + node._("vehicle-command.tip.params"); }
                if (c.opensCar) { about += " " + node._("vehicle-command.tip.opensCar"); }
                $("#vehicle-command-about .vehicle-command-confirmed").text(about);
            }
            // Remember what the inputs hold when the command changes back and forth.
            $("#vehicle-command-params").on("change input", ".vehicle-command-param", function() {
                var el = $(this);
                var v = el.val();
                if (v === "" || v === null) { delete saved[el.data("name")]; }
                else { saved[el.data("name")] = el.data("type") === "boolean" ? v === "true" : Number(v); }
            });

            function ready() {
                table.commands.forEach(function(c) { $("<option>", { value: c.name }).text(c.name).appendTo(select); });
                if (node.command && !commandOf(node.command)) {
                    $("<option>", { value: node.command }).text(node.command).appendTo(select);
                }
                select.val(node.command || "");
                select.on("change", render);
                renderedFor = node.id;
                render();
                $("#vehicle-command-wake-warning .vehicle-command-wake-cost").text(node._("vehicle-command.warning.wake", { wake: usd(table.price.wake) }));
                $(".vehicle-command-cost").text(node._("vehicle-command.tip.cost", { command: usd(table.price.command), wake: usd(table.price.wake) }));
            }
            loadTable().done(ready).fail(function() {
                // Without the runtime's table: the saved command stays, its parameters are kept as they are.
                if (node.command) { $("<option>", { value: node.command }).text(node.command).appendTo(select); }
                select.val(node.command || "");
                $("#vehicle-command-from-msg").toggle(!node.command);
                $("#vehicle-command-about").hide();
            });

            var showWake = function() { $("#vehicle-command-wake-warning").toggle($("#node-input-wake").val() === "allow"); };
            $("#node-input-wake").on("change", showWake);
            showWake();
            var showUnlock = function() { $("#vehicle-command-unlock-warning").toggle($("#node-input-allowUnlock").is(":checked")); };
            $("#node-input-allowUnlock").on("change", showUnlock);
            showUnlock();
        },
        oneditsave: function() {
            var rendered = renderedFor === this.id;
            renderedFor = null;
            if (!rendered) { return; }
            // Only the chosen command's parameters that are set; empty ones come from msg.payload.
            var params = {};
            $("#vehicle-command-params .vehicle-command-param").each(function() {
                var el = $(this);
                var v = el.val();
                if (v === "" || v === null) { return; }
                params[el.data("name")] = el.data("type") === "boolean" ? v === "true" : Number(v);
            });
            this.params = params;
        },
        oneditcancel: function() {
            renderedFor = null;
        }
    });
})();
