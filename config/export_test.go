package config

// DidYouMean is didYouMean, for tests.
var DidYouMean = didYouMean
