(function() {
    // A rule answers true, or on failure the reason (Node-RED >= 3.1 passes `opt`) or false (older editors).
    function rule(test, reason) {
        return function(v, opt) { return test(String(v == null ? "" : v).trim()) ? true : (opt ? reason : false); };
    }
    function isHttps(s) { try { return /^https:\/\/[^\s\/?#]+/i.test(s) && new URL(s).protocol === "https:"; } catch (e) { return false; } }
    var PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/;
    var HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
    var TOKEN_URL = "https://fleet-auth.prd.vn.cloud.tesla.com/oauth2/v3/token";

    RED.nodes.registerType("tesla-account", {
        category: "config",
        paletteLabel: "tesla account",
        defaults: {
            name: { value: "" },
            region: { value: "na", required: true, validate: rule(function(s) { return /^(na|eu|cn)$/.test(s); },
                "Region must be na, eu or cn") },
            proxyUrl: { value: "", validate: rule(function(s) { return !s || isHttps(s); },
                "Proxy URL must be an https:// URL, e.g. https://localhost:4443") },
            proxyCa: { value: "", validate: rule(function(s) { return !s || PEM.test(s); },
                "Proxy CA must be PEM text: -----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----") },
            tokenUrl: { value: TOKEN_URL, required: true, label: "Token URL", validate: rule(isHttps, "Token URL must be an https:// URL") },
            fleetApiUrl: { value: "", validate: rule(function(s) { return !s || isHttps(s); },
                "Fleet API URL must be an https:// URL (or empty: the region's)") },
            domain: { value: "", validate: rule(function(s) { return !s || (HOSTNAME.test(s) && !/tesla/i.test(s)); },
                "Domain must be a host name such as fleet.example.com (no https://, no path) that does not contain \"tesla\"") }
        },
        credentials: {
            clientId: { type: "text" },
            clientSecret: { type: "password" },
            refreshToken: { type: "password" },
            accessToken: { type: "password" }
        },
        label: function() {
            return this.name || ("Tesla account (" + (this.region || "na") + ")");
        },
        oneditprepare: function() {
            var showLink = function() {
                var d = $.trim($("#node-config-input-domain").val());
                var link = $("#tesla-account-pairing-link");
                if (d && HOSTNAME.test(d)) {
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
