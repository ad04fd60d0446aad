// Command sluice is the Sluice live-streaming media server.
//
//	sluice                     run with the embedded default config
//	sluice -config FILE        overlay a YAML file on the defaults
//	sluice -print-config       print the effective config as YAML and exit
//	sluice -check-config FILE  validate FILE as startup would, without starting, and exit
//	sluice -version            print the version and exit
//
// Every config key can also be set with a SLUICE_* environment variable
// (SLUICE_RTMP_LISTEN=:19350). SIGINT or SIGTERM stops the server
// gracefully; a second one during shutdown exits at once.
//
// Exit status: 0 after a clean stop, 1 on a runtime error, 2 on a usage or
// configuration error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sluicemedia/sluice/internal/app"
	"github.com/sluicemedia/sluice/internal/certs"
	"github.com/sluicemedia/sluice/internal/config"
	"github.com/sluicemedia/sluice/internal/obs"
)

// version is the release version, set at build time with
// -ldflags "-X main.version=v1.2.3".
var version = "dev"

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1
	exitConfig = 2
)

// runFunc runs the server until ctx ends; app.Run in production.
type runFunc func(ctx context.Context, cfg *config.Config, log *slog.Logger) error

func main() {
	app.Version = version
	os.Exit(run(os.Args[1:], os.Environ(), os.Stdout, os.Stderr, app.Run))
}

// run is main without the process globals, so tests can drive it. It
// returns the exit code.
func run(args, environ []string, stdout, stderr io.Writer, runApp runFunc) int {
	fs := flag.NewFlagSet("sluice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "overlay the YAML config `FILE` on the embedded defaults")
	printConfig := fs.Bool("print-config", false, "print the effective config as YAML and exit")
	checkConfig := fs.String("check-config", "", "validate the YAML config `FILE` as startup would (defaults, the file, SLUICE_* variables, the files it names), "+
		"without binding a port, and exit: 0 and \"config FILE ok\", or 2 and the error")
	showVersion := fs.Bool("version", false, "print the version and exit")
	genCert := fs.String("gen-cert", "", "write a self-signed certificate and key for local testing into `DIR` (cert.pem, key.pem) and exit")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: sluice [-config FILE] [-print-config] [-check-config FILE] [-version] [-gen-cert DIR]\n\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEvery config key can be set with SLUICE_<KEY_PATH>, e.g. SLUICE_RTMP_LISTEN=:19350.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitConfig // the flag package has printed the error and usage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "sluice: unexpected argument %q (see sluice -h)\n", fs.Arg(0))
		return exitConfig
	}
	if *showVersion {
		fmt.Fprintf(stdout, "sluice %s\n", version)
		return exitOK
	}
	if *genCert != "" {
		host, _ := os.Hostname()
		certFile, keyFile, err := certs.GenerateSelfSigned(*genCert, host)
		if err != nil {
			fmt.Fprintf(stderr, "sluice: gen-cert: %s\n", oneLine(err))
			return exitError
		}
		fmt.Fprintf(stdout, "wrote %s and %s (self-signed, for localhost, 127.0.0.1, ::1 and %s; valid 1 year)\n", certFile, keyFile, host)
		fmt.Fprintf(stdout, "use them with:\n  SLUICE_RTMPS_CERT=%s SLUICE_RTMPS_KEY=%s SLUICE_HTTPS_CERT=%s SLUICE_HTTPS_KEY=%s sluice\n", certFile, keyFile, certFile, keyFile)
		return exitOK
	}

	if *checkConfig != "" {
		if *cfgPath != "" && *cfgPath != *checkConfig {
			fmt.Fprintf(stderr, "sluice: -check-config %s and -config %s name different files (give one)\n", *checkConfig, *cfgPath)
			return exitConfig
		}
		*cfgPath = *checkConfig
	}
	cfg, err := config.Load(*cfgPath, environ)
	if err == nil {
		err = cfg.Validate()
	}
	if err != nil {
		printConfigError(stderr, err)
		return exitConfig
	}
	if *checkConfig != "" {
		// The rest of what startup checks before it binds anything: the
		// logger and the files and programs the config names.
		if _, err := obs.NewLogger(cfg.Log.Level, cfg.Log.Format, io.Discard); err != nil {
			printConfigError(stderr, err)
			return exitConfig
		}
		if err := app.CheckConfig(cfg); err != nil {
			printConfigError(stderr, err)
			return exitConfig
		}
		fmt.Fprintf(stdout, "config %s ok\n", *checkConfig)
		return exitOK
	}
	if *printConfig {
		b, err := cfg.YAML()
		if err != nil {
			printConfigError(stderr, err)
			return exitConfig
		}
		if _, err := stdout.Write(b); err != nil {
			fmt.Fprintf(stderr, "sluice: write config: %s\n", oneLine(err))
			return exitError
		}
		return exitOK
	}
	logger, err := obs.NewLogger(cfg.Log.Level, cfg.Log.Format, stderr)
	if err != nil {
		printConfigError(stderr, err)
		return exitConfig
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopSignals := handleSignals(cancel, logger, stderr)
	defer stopSignals()

	logger.Info("sluice starting", "version", version)
	if err := runApp(ctx, cfg, logger); err != nil {
		fmt.Fprintf(stderr, "sluice: %s\n", oneLine(err))
		return exitError
	}
	return exitOK
}

// handleSignals cancels the run on the first SIGINT or SIGTERM and exits
// the process at once on a second one, so a stuck shutdown can always be
// cut short. The returned func stops the handling.
func handleSignals(cancel context.CancelFunc, logger *slog.Logger, stderr io.Writer) (stop func()) {
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-sigs:
			logger.Info("signal received, stopping (send it again to exit at once)", "signal", s.String())
			cancel()
		case <-done:
			return
		}
		select {
		case s := <-sigs:
			fmt.Fprintf(stderr, "sluice: second %s during shutdown, exiting now\n", s)
			os.Exit(exitError)
		case <-done:
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// printConfigError prints err as "sluice: config: ..." on one line.
func printConfigError(w io.Writer, err error) {
	msg := oneLine(err)
	if !strings.HasPrefix(msg, "config: ") {
		msg = "config: " + msg
	}
	fmt.Fprintf(w, "sluice: %s\n", msg)
}

// oneLine returns err's message with line breaks folded into "; ".
func oneLine(err error) string {
	var parts []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			parts = append(parts, l)
		}
	}
	return strings.Join(parts, "; ")
}
