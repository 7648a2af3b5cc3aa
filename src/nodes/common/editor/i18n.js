// Editor helpers, shared by every node of this package: the build puts each file of
// src/nodes/common/editor/ before every node's editor script, so a file may run several times.
// Each defines its part of window.TeslaFleetEditor once; a later run finds it there and stops.

// Words: every label, placeholder, tip and validation text is in the node's message catalog
// (locales/en-US/<type>.json). Templates name them with data-i18n (Node-RED resolves those in
// the node's namespace); scripts with the function `i18n(type)` answers:
//   var _ = TeslaFleetEditor.i18n("telemetry-in");
//   _("telemetry-in.errors.vins")  // that text of telemetry-in's catalog
// Node-RED loads the catalogs before the editor scripts, so `_` works while a script registers
// its type (for `label` in `defaults`, say). A key another namespace (`node-red:…`) stays so.
(function(E) {
    if (E.i18n) { return; }
    E.i18n = function(type) {
        var ns = null;
        return function(key, options) {
            if (!ns) {
                var registry = RED.nodes.registry;
                var set = registry && registry.getNodeSetForType ? registry.getNodeSetForType(type) : null;
                ns = set ? set.id : null; // "<module>/<type>", the catalog's namespace
            }
            var full = key.indexOf(":") < 0 && ns ? ns + ":" + key : key;
            var text = RED._(full, options);
            return text === full ? key : text;
        };
    };
})(window.TeslaFleetEditor = window.TeslaFleetEditor || {});
