module github.com/anacrolix/go-utp

go 1.24.0

require (
	github.com/anacrolix/go-libutp v1.5.0
	github.com/anacrolix/log v0.17.1-0.20251118025802-918f1157b7bb
	github.com/anacrolix/utp v0.1.0
)

require (
	github.com/anacrolix/generics v0.1.0 // indirect
	github.com/anacrolix/missinggo v1.2.1 // indirect
	github.com/anacrolix/missinggo/perf v1.0.0 // indirect
	github.com/anacrolix/missinggo/v2 v2.10.0 // indirect
	github.com/anacrolix/mmsg v1.0.1 // indirect
	github.com/anacrolix/sync v0.0.0-20180808010631-44578de4e778 // indirect
	github.com/huandu/xstrings v1.3.2 // indirect
	golang.org/x/exp v0.0.0-20240823005443-9b4947da3948 // indirect
)
