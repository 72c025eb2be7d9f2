// Package embedded runs a Kafka-protocol broker inside the process
// (franz-go's kfake), for demos, examples and local development without a
// Kafka installation. It is not a production broker: it keeps one copy of
// each partition, serves every request on one goroutine, and runs compaction
// and retention only when asked.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config configures a Broker.
type Config struct {
	// Port is the port to listen on (default 9092; -1 picks a free one).
	Port int
	// DataDir keeps the broker's data on disk, so that a restarted broker
	// has it again; empty keeps it in memory.
	DataDir string
	// DefaultPartitions is the partition count of topics created
	// automatically (default 4).
	DefaultPartitions int32
}

// Broker is a running embedded broker.
type Broker struct {
	c   *kfake.Cluster
	cl  *kgo.Client
	adm *kadm.Client
}

// Start starts a broker.
func Start(cfg Config) (*Broker, error) {
	if cfg.Port == 0 {
		cfg.Port = 9092
	}
	if cfg.DefaultPartitions <= 0 {
		cfg.DefaultPartitions = 4
	}
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.DefaultNumPartitions(int(cfg.DefaultPartitions)),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond)}
	if cfg.Port > 0 {
		opts = append(opts, kfake.Ports(cfg.Port))
	}
	if cfg.DataDir != "" {
		opts = append(opts, kfake.DataDir(cfg.DataDir))
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		return nil, fmt.Errorf("embedded: starting the broker: %w", err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		c.Close()
		return nil, err
	}
	return &Broker{c: c, cl: cl, adm: kadm.NewClient(cl)}, nil
}

// Addrs returns the broker's listen addresses.
func (b *Broker) Addrs() []string { return b.c.ListenAddrs() }

// CreateTopic creates a topic unless it exists.
func (b *Broker) CreateTopic(ctx context.Context, name string, partitions int32, configs map[string]string) error {
	cfg := map[string]*string{}
	for k, v := range configs {
		cfg[k] = &v
	}
	resp, err := b.adm.CreateTopic(ctx, partitions, 1, cfg, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("embedded: creating topic %s: %w", name, err)
	}
	return nil
}

// Close stops the broker, saving its data when it has a data directory.
func (b *Broker) Close() {
	b.cl.Close()
	b.c.Close()
}
