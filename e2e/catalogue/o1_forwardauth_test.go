package catalogue

// entriesOForwardAuth: request reconstruction on the forward-auth listener (seams items 1).
var entriesOForwardAuth = []entry{}
