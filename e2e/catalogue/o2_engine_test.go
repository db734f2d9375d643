package catalogue

// entriesOEngine: headers, cookies, methods, paths and credential channels (seams items 2-9, 19).
var entriesOEngine = []entry{}
