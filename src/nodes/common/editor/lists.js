// Comma lists as the editors take them (VINs, fields, alert types).
(function(E) {
    if (E.parseList) { return; }
    // An array or a comma list: trimmed items, empty ones dropped, each once.
    E.parseList = function(input) {
        var parts = Array.isArray(input) ? input : input === undefined || input === null ? [] : String(input).split(",");
        var out = [];
        parts.forEach(function(p) {
            var s = String(p === undefined || p === null ? "" : p).trim();
            if (s !== "" && out.indexOf(s) < 0) { out.push(s); }
        });
        return out;
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
