// Validation of node properties. A rule is a `validate` for a node's `defaults`:
//   vins: { value: "", validate: E.rule(E.is.listOf(/^[A-Za-z0-9-]+$/), _("telemetry-in.errors.vins")) }
// `test` gets the value as a trimmed string (`this` is the node); on failure the rule answers
// `reason` (a text, or a function of the node answering one) on Node-RED >= 3.1, which passes
// `opt` and shows it, and false on older editors.
(function(E) {
    if (E.rule) { return; }
    E.rule = function(test, reason) {
        return function(v, opt) {
            if (test.call(this, String(v === undefined || v === null ? "" : v).trim())) { return true; }
            return opt ? (typeof reason === "function" ? reason.call(this) : reason) : false;
        };
    };
    function number(s) { return s === "" ? NaN : Number(s); }
    var PEM = /-----BEGIN [A-Z0-9 ]+-----[\s\S]+-----END [A-Z0-9 ]+-----/;
    var HOSTNAME = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$/i;
    // Tests for E.rule, on the trimmed string.
    E.is = {
        optional: function(test) { return function(s) { return s === "" || test.call(this, s); }; },
        oneOf: function(values) { return function(s) { return values.indexOf(s) >= 0; }; },
        matching: function(re) { return function(s) { return re.test(s); }; },
        without: function(re) { return function(s) { return !re.test(s); }; },
        // A comma list whose every item matches `re` (empty items are ignored).
        listOf: function(re) { return function(s) { return E.parseList(s).every(function(i) { return re.test(i); }); }; },
        atLeast: function(min) { return function(s) { return number(s) >= min; }; },
        above: function(min) { return function(s) { return number(s) > min; }; },
        wholeAtLeast: function(min) { return function(s) { var n = number(s); return n >= min && Math.floor(n) === n; }; },
        // An absolute URL of one of `schemes` (e.g. ["https"]) with a host.
        url: function(schemes) {
            var re = new RegExp("^(" + schemes.join("|") + "):\\/\\/[^\\s\\/?#]+", "i");
            return function(s) { try { return re.test(s) && !!new URL(s); } catch (e) { return false; } };
        },
        // PEM text: -----BEGIN …----- … -----END …----- (POST telemetry-config/ca-info parses it).
        pem: function(s) { return PEM.test(s); },
        // A DNS name with a dot, no scheme, port or path: fleet.example.com.
        hostname: function(s) { return HOSTNAME.test(s); }
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
