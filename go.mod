module github.com/restguard/restguard

go 1.26.8
