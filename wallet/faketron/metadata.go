package faketron

import (
	"context"

	"google.golang.org/grpc/metadata"
)

func metadataFrom(ctx context.Context) ([]string, bool) {
	md, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return nil, false
	}
	v := md.Get("tron-pro-api-key")
	return v, len(v) > 0
}
