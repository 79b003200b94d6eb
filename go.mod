module github.com/applinks/applinks

go 1.26.0
