package catalogue

// entriesOProviders: provider bindings, key sets and reloads (seams items 15, 17, 18).
var entriesOProviders = []entry{}
