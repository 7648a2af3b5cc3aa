(function() {
    var E = TeslaFleetEditor;
    var _ = E.i18n("tesla-account");
    var TOKEN_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token";
    var https = E.is.url(["https"]);

    RED.nodes.registerType("tesla-account", {
        category: "config",
        paletteLabel: _("tesla-account.paletteLabel"),
        defaults: {
            name: { value: "" },
            region: { value: "na", required: true, validate: E.rule(E.is.oneOf(["na", "eu", "cn"]), _("tesla-account.errors.region")) },
            proxyUrl: { value: "", validate: E.rule(E.is.optional(https), _("tesla-account.errors.proxyUrl")) },
            proxyCa: { value: "", validate: E.rule(E.is.optional(E.is.pem), _("tesla-account.errors.proxyCa")) },
            tokenUrl: { value: TOKEN_URL, required: true, label: _("tesla-account.label.tokenUrl"), validate: E.rule(https, _("tesla-account.errors.tokenUrl")) },
            fleetApiUrl: { value: "", validate: E.rule(E.is.optional(https), _("tesla-account.errors.fleetApiUrl")) },
            domain: { value: "", validate: E.rule(E.is.optional(function(s) { return E.is.hostname(s) && !/tesla/i.test(s); }),
                _("tesla-account.errors.domain")) }
        },
        credentials: {
            clientId: { type: "text" },
            clientSecret: { type: "password" },
            refreshToken: { type: "password" },
            accessToken: { type: "password" }
        },
        label: function() {
            return this.name || _("tesla-account.nodeLabel", { region: this.region || "na" });
        },
        oneditprepare: function() {
            var showLink = function() {
                var d = $.trim($("#node-config-input-domain").val());
                var link = $("#tesla-account-pairing-link");
                if (d && E.is.hostname(d)) {
                    link.attr("href", "https://tesla.com/_ak/" + d).text("https://tesla.com/_ak/" + d);
                    $("#tesla-account-pairing").show();
                } else {
                    $("#tesla-account-pairing").hide();
                }
            };
            $("#node-config-input-domain").on("change keyup input", showLink);
            showLink();
            $("#tesla-account-advanced-toggle").on("click", function(e) {
                e.preventDefault();
                $("#tesla-account-advanced").toggle();
                $(this).find("i").toggleClass("fa-caret-right fa-caret-down");
            });
            var custom = this.fleetApiUrl || (this.tokenUrl && this.tokenUrl !== TOKEN_URL);
            if (custom) { $("#tesla-account-advanced-toggle").trigger("click"); }
        }
    });
})();
