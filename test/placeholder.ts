import "mocha"
