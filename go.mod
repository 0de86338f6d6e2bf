module github.com/hastio/hast

go 1.26
