package main

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/stevedore-dev/stevedore/spec"
)

// printKustomizeHint explains a rollback ctl cannot write: kustomize renders
// the Deployment (from a base, with patches, images or name prefixes), so
// no document of the tree is the Deployment as applied. It names the
// kustomization and says what to restore: the images, or the whole
// template when more than images changed.
func (c *cli) printKustomizeHint(p *undoPlan, kfile string, kdata []byte, current *spec.PodTemplateSpec) {
	w := c.errOut
	id := p.key.Namespace + "/" + p.key.Name
	krel := relPath(p.dir, kfile)
	fmt.Fprintf(w, "error: Deployment %s is built by kustomization %s: ctl rollout undo edits only a manifest that declares it as applied; nothing was changed.\n", id, krel)
	fmt.Fprintf(w, "To roll back to revision %d (commit %s, %q), make %s render that revision's pod template", p.target.Number, short(p.target.Commit), p.target.Subject, krel)
	images := imageChanges(current, &p.target.Template)
	if len(images) > 0 {
		fmt.Fprintln(w, ":")
		for _, ch := range images {
			fmt.Fprintf(w, "  container %s: image %s (now %s)\n", ch.container, ch.to, ch.from)
			if name, ok := imageEntry(kdata, imageName(ch.from)); ok {
				fmt.Fprintf(w, "    e.g. (cd %s && kustomize edit set image %s=%s)\n", path.Dir(krel), name, ch.to)
			} else {
				fmt.Fprintf(w, "    (no images entry of %s renames %s: change it where its resources or components declare it)\n", krel, imageName(ch.from))
			}
		}
	} else {
		fmt.Fprintln(w, ".")
	}
	if len(images) > 0 && withImages(current, images) == p.target.Hash {
		fmt.Fprintln(w, "Only the images differ.")
		return
	}
	block, err := encodeTemplate(&p.target.Template, p.target.Hash, 2)
	if err != nil {
		return
	}
	fmt.Fprintf(w, "Revision %d's pod template (as the reconciler recorded it, defaults filled in):\n%s", p.target.Number, strings.Join(block, ""))
}

// imageChange is one container whose image differs between two templates.
type imageChange struct {
	container, from, to string
}

// imageChanges lists the containers of to whose image from runs otherwise.
func imageChanges(from, to *spec.PodTemplateSpec) []imageChange {
	was := map[string]string{}
	for _, c := range from.Spec.Containers {
		was[c.Name] = c.Image
	}
	var out []imageChange
	for _, c := range to.Spec.Containers {
		if old, ok := was[c.Name]; ok && old != c.Image {
			out = append(out, imageChange{container: c.Name, from: old, to: c.Image})
		}
	}
	return out
}

// withImages is the hash of t with the images changed: whether changing
// only them gives the target revision.
func withImages(t *spec.PodTemplateSpec, changes []imageChange) string {
	b, err := json.Marshal(t)
	if err != nil {
		return ""
	}
	var cp spec.PodTemplateSpec
	if json.Unmarshal(b, &cp) != nil {
		return ""
	}
	for i, c := range cp.Spec.Containers {
		for _, ch := range changes {
			if ch.container == c.Name {
				cp.Spec.Containers[i].Image = ch.to
			}
		}
	}
	return spec.TemplateHash(&cp)
}

// imageEntry returns the name of the kustomization's images entry that
// gives the image called rendered (its newName, or its name when it has
// none): the name `kustomize edit set image` takes.
func imageEntry(kustomization []byte, rendered string) (string, bool) {
	var k struct {
		Images []struct {
			Name    string `yaml:"name"`
			NewName string `yaml:"newName"`
		} `yaml:"images"`
	}
	if yaml.Unmarshal(kustomization, &k) != nil {
		return "", false
	}
	for _, im := range k.Images {
		if im.NewName == rendered || (im.NewName == "" && im.Name == rendered) {
			return im.Name, true
		}
	}
	return "", false
}

// imageName is an image reference without its tag or digest: the name
// kustomize's images transformer matches.
func imageName(ref string) string {
	if i := strings.IndexByte(ref, '@'); i >= 0 {
		ref = ref[:i]
	}
	if i := strings.LastIndexByte(ref, ':'); i > strings.LastIndexByte(ref, '/') {
		ref = ref[:i]
	}
	return ref
}
