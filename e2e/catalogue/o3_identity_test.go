package catalogue

// entriesOIdentity: usernames, presets and user lists (seams items 10-14, 16).
var entriesOIdentity = []entry{}
