// Tesla's field catalogue, from the runtime (GET tesla-fleet-telemetry/fields:
// [{name, id, kind, unit, enum}]), and completion of field names from it.
(function(E) {
    if (E.catalogue) { return; }
    // A promise of the list; [] when the runtime cannot be asked (tried again next time).
    E.catalogue = function() {
        return E.getJson("tesla-fleet-telemetry/fields").then(function(list) {
            return Array.isArray(list) ? list : [];
        }, function() {
            return $.Deferred().resolve([]).promise();
        });
    };
    // Completes field names in a text input as the user types. `multiple`: the input holds a
    // comma list, and the item after the last comma is completed (the items before are kept
    // and not offered again).
    E.fieldAutocomplete = function(input, multiple) {
        if (!$.fn.autoComplete) { return; }
        $(input).autoComplete({
            minLength: 1,
            search: function(value, done) {
                E.catalogue().then(function(list) {
                    var cut = multiple ? value.lastIndexOf(",") : -1;
                    var head = cut < 0 ? "" : value.slice(0, cut + 1) + " ";
                    var term = value.slice(cut + 1).trim().toLowerCase();
                    var chosen = E.parseList(value.slice(0, cut + 1));
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
            }
        });
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
