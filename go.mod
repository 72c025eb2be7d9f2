module github.com/seed992c72d9/streams

go 1.26.0
