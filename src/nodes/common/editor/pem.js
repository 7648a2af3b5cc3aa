// The CA check: the runtime parses the PEM (POST telemetry-config/ca-info) and answers
// {subject, issuer, validFrom, validTo, expired, notYetValid, fingerprint256, isCa, count},
// or {error} saying what is wrong with it.
(function(E) {
    if (E.checkPem) { return; }
    // A promise of that answer; rejected with the reason as text.
    E.checkPem = function(pem) {
        return E.postJson("telemetry-config/ca-info", { pem: pem }).then(null, function(xhr) {
            return $.Deferred().reject(E.errorText(xhr)).promise();
        });
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
