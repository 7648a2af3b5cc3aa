// The admin endpoints of this package (relative URLs: they follow Node-RED's httpAdminRoot).
(function(E) {
    if (E.getJson) { return; }
    var cache = {};
    // GET a JSON answer once per editor session; a failed request is tried again next time.
    E.getJson = function(url) {
        if (!cache[url]) {
            cache[url] = $.getJSON(url);
            cache[url].fail(function() { delete cache[url]; });
        }
        return cache[url];
    };
    E.postJson = function(url, body) {
        return $.ajax({ url: url, type: "POST", contentType: "application/json", dataType: "json", data: JSON.stringify(body) });
    };
    // Why a request failed: the endpoint's {error}, else what the browser knows.
    E.errorText = function(xhr) {
        var answer = xhr && xhr.responseJSON;
        return String((answer && (answer.error || answer.message)) || (xhr && (xhr.responseText || xhr.statusText)) || "");
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
