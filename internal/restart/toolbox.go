package restart

import (
	"context"
	"io"
	"slices"

	corev1 "k8s.io/api/core/v1"

	"github.com/kindling-dev/kindling/internal/kube"
	"github.com/kindling-dev/kindling/internal/transport"
)

// An image without a shell (distroless, scratch) gets one from the toolbox: an init container of the helper
// image copies its static BusyBox into an emptyDir, linked as every applet, which the wrapped container
// mounts. The supervisor and every command kindling runs there use that shell and those tools; the app's
// argv, env, user and working directory stay its own. A container whose user cannot write --dest gets an
// emptyDir there instead, which an init container fills with the image's copy, running as that same user.
const (
	// ToolboxDir is where the wrapped container finds the toolbox.
	ToolboxDir = "/.kindling/toolbox"
	// DefaultHelperImage is the official BusyBox image, pinned by digest: its musl build is static, so it
	// runs in any container. An air-gapped cluster mirrors it and passes --helper-image.
	DefaultHelperImage = "docker.io/library/busybox:1.37.0-musl@sha256:5cec3fc171c87218698e85a52af7087de727372aae264a787b8112901a5b0092"

	toolboxVolume = "kindling-toolbox"
	seedVolume    = "kindling-dest"
	seedDir       = "/.kindling/seed"
	seedTree      = "tree"
	// toolboxPath is the PATH of kindling's commands in a toolbox container: the toolbox first, then the
	// directories a container's PATH has by default.
	toolboxPath = "PATH=" + ToolboxDir + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// installToolbox copies the helper image's BusyBox into $1 and links it as each of its applets (hard links:
// a symbolic link to BusyBox would name a path of the helper image, which the app's container lacks).
const installToolbox = `set -e
cp /bin/busybox "$1/busybox"
cd "$1"
for applet in $(./busybox --list); do [ "$applet" = busybox ] || ./busybox ln -f busybox "$applet"; done`

// seedDest copies the image's $1 into the emptyDir $2 that replaces it, as the app's own user, so that the
// copies are that user's; $3, when given, is the toolbox to take tar or cp from. The copy goes to a directory
// of the user's own in the emptyDir (seedTree, which the app mounts): the emptyDir's root is root's, and
// giving it $1's mode and times would be refused.
const seedDest = `[ -z "$3" ] || PATH=$3:$PATH
mkdir -p "$2/` + seedTree + `"
[ -d "$1" ] || exit 0
if command -v tar >/dev/null 2>&1; then
	(cd "$1" && tar cf - .) | (cd "$2/` + seedTree + `" && tar xpf -)
else
	cp -R -p "$1/." "$2/` + seedTree + `/"
fi`

// addToolbox gives the pod the toolbox and mounts it into c (read-only, at ToolboxDir).
func addToolbox(spec *corev1.PodSpec, c *corev1.Container, image string) {
	spec.Volumes = setVolume(spec.Volumes, corev1.Volume{Name: toolboxVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	spec.InitContainers = setInit(spec.InitContainers, corev1.Container{
		Name:            toolboxVolume,
		Image:           image,
		ImagePullPolicy: corev1.PullIfNotPresent,
		Command:         kube.Literal("/bin/busybox", "sh", "-c", installToolbox, "kindling-toolbox", ToolboxDir),
		VolumeMounts:    []corev1.VolumeMount{{Name: toolboxVolume, MountPath: ToolboxDir}},
		SecurityContext: kube.NobodyContext(),
	})
	c.VolumeMounts = setMount(c.VolumeMounts, corev1.VolumeMount{Name: toolboxVolume, MountPath: ToolboxDir, ReadOnly: true})
}

// addSeed puts an emptyDir at dest in c, filled at each start of the pod with the image's dest by an init
// container of c's image, run as c's user (c's security context).
func addSeed(spec *corev1.PodSpec, c *corev1.Container, dest string, toolbox bool) {
	shell, tools := "sh", ""
	mounts := []corev1.VolumeMount{{Name: seedVolume, MountPath: seedDir}}
	if toolbox {
		shell, tools = ToolboxDir+"/sh", ToolboxDir
		mounts = append(mounts, corev1.VolumeMount{Name: toolboxVolume, MountPath: ToolboxDir, ReadOnly: true})
	}
	spec.Volumes = setVolume(spec.Volumes, corev1.Volume{Name: seedVolume, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}})
	spec.InitContainers = setInit(spec.InitContainers, corev1.Container{
		Name:            seedVolume,
		Image:           c.Image,
		ImagePullPolicy: c.ImagePullPolicy,
		Command:         kube.Literal(shell, "-c", seedDest, "kindling-seed", dest, seedDir, tools),
		VolumeMounts:    mounts,
		SecurityContext: c.SecurityContext.DeepCopy(),
	})
	c.VolumeMounts = setMount(c.VolumeMounts, corev1.VolumeMount{Name: seedVolume, MountPath: dest, SubPath: seedTree})
}

// removeAdditions undoes addToolbox and addSeed.
func removeAdditions(spec *corev1.PodSpec, c *corev1.Container) {
	ours := func(name string) bool { return name == toolboxVolume || name == seedVolume }
	spec.InitContainers = slices.DeleteFunc(spec.InitContainers, func(x corev1.Container) bool { return ours(x.Name) })
	if len(spec.InitContainers) == 0 {
		spec.InitContainers = nil
	}
	spec.Volumes = slices.DeleteFunc(spec.Volumes, func(v corev1.Volume) bool { return ours(v.Name) })
	if c != nil {
		c.VolumeMounts = slices.DeleteFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool { return ours(m.Name) })
	}
}

// setInit replaces the init container of the same name, or appends c. (Ours go last: the toolbox before the
// seed, which uses it, and both after the app's own, which may prepare what the seed copies.)
func setInit(cs []corev1.Container, c corev1.Container) []corev1.Container {
	if i := slices.IndexFunc(cs, func(x corev1.Container) bool { return x.Name == c.Name }); i >= 0 {
		cs[i] = c
		return cs
	}
	return append(cs, c)
}

// ToolboxExec runs kindling's commands in a toolbox container: a command that starts with sh runs on the
// toolbox's shell, with the toolbox first on its PATH.
type ToolboxExec struct{ transport.Execer }

func (t ToolboxExec) Exec(ctx context.Context, argv []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(argv) > 0 && argv[0] == "sh" {
		argv = append([]string{ToolboxDir + "/env", toolboxPath}, argv...)
	}
	return t.Execer.Exec(ctx, argv, stdin, stdout, stderr)
}
