package kube

import (
	"context"
	"errors"
	"fmt"
	"io"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/remotecommand"
	utilexec "k8s.io/client-go/util/exec"
	"k8s.io/streaming/pkg/httpstream"
)

// ContainerExec runs commands in one container of one pod. It implements transport.Execer.
type ContainerExec struct {
	client    *Client
	Namespace string
	Pod       string
	Container string
}

// NewContainerExec returns an Execer for the named container.
func (c *Client) NewContainerExec(namespace, pod, container string) *ContainerExec {
	return &ContainerExec{client: c, Namespace: namespace, Pod: pod, Container: container}
}

func (e *ContainerExec) Target() string { return "pod/" + e.Pod + "/" + e.Container }

// ExitError is returned when the command ran and exited with a non-zero status.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("exit status %d", e.Code) }

// Exec runs argv over a WebSocket stream, falling back to SPDY for API servers that do not speak it.
func (e *ContainerExec) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	req := e.client.Clientset.CoreV1().RESTClient().Post().
		Resource("pods").Namespace(e.Namespace).Name(e.Pod).SubResource("exec").
		VersionedParams(&corev1.PodExecOptions{
			Container: e.Container,
			Command:   argv,
			Stdin:     stdin != nil,
			Stdout:    stdout != nil,
			Stderr:    stderr != nil,
		}, scheme.ParameterCodec)
	ws, err := remotecommand.NewWebSocketExecutor(e.client.Config, "GET", req.URL().String())
	if err != nil {
		return err
	}
	spdy, err := remotecommand.NewSPDYExecutor(e.client.Config, "POST", req.URL())
	if err != nil {
		return err
	}
	exec, err := remotecommand.NewFallbackExecutor(ws, spdy, func(err error) bool {
		return httpstream.IsUpgradeFailure(err) || httpstream.IsHTTPSProxyError(err)
	})
	if err != nil {
		return err
	}
	err = exec.StreamWithContext(ctx, remotecommand.StreamOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr})
	var exitErr utilexec.CodeExitError
	if errors.As(err, &exitErr) {
		return &ExitError{Code: exitErr.Code}
	}
	if err != nil {
		return Explain(err, "create pods/exec", e.Namespace)
	}
	return nil
}
