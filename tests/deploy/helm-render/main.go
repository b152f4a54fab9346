// helm-render renders a Helm chart the way `helm template` does, with the libraries Helm itself uses:
// Go's text/template, sprig's functions and Helm's extra ones (include, tpl, required, fail, toYaml,
// fromYaml, toJson, fromJson, lookup), Helm's values coalescing (chart values, -f files, --set), Helm's
// values.schema.json check (gojsonschema, as Helm) and the built-in objects (.Values, .Release, .Chart, .Capabilities, .Files, .Template). Dependencies found as
// folders under charts/ are rendered as subcharts with their own scoped values; a declared dependency that
// is missing there is an error, as in Helm, unless --skip-missing-dependencies is given.
//
// There is no helm binary (and no network) on the machines that run the Tapgate suite; this program is
// built there from Debian's golang packages (see build.sh).
//
// Usage: helm-render [--release NAME] [--namespace NS] [--kube-version v1.31.0] [--api-versions a,b]
//
//	[--skip-missing-dependencies] [--output json|yaml] [-f values.yaml ...] [--set a.b=c ...] CHART_DIR
//
// JSON output: {"manifests":[{"source":"<chart>/templates/x.yaml","content":"..."}],"notes":"..."}.
// A render error is printed on stderr with exit status 1; bad usage exits 2.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/semver/v3"
	"github.com/Masterminds/sprig/v3"
	"github.com/xeipuuv/gojsonschema"
	yaml "gopkg.in/yaml.v2"
)

type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

// Metadata mirrors Helm's chart.Metadata: templates read it as .Chart.Name, .Chart.AppVersion, ...
type Metadata struct {
	Name         string            `json:"name"`
	Home         string            `json:"home,omitempty"`
	Sources      []string          `json:"sources,omitempty"`
	Version      string            `json:"version"`
	Description  string            `json:"description,omitempty"`
	Keywords     []string          `json:"keywords,omitempty"`
	Icon         string            `json:"icon,omitempty"`
	APIVersion   string            `json:"apiVersion"`
	Condition    string            `json:"condition,omitempty"`
	Tags         string            `json:"tags,omitempty"`
	AppVersion   string            `json:"appVersion,omitempty"`
	Deprecated   bool              `json:"deprecated,omitempty"`
	Annotations  map[string]string `json:"annotations,omitempty"`
	KubeVersion  string            `json:"kubeVersion,omitempty"`
	Dependencies []*Dependency     `json:"dependencies,omitempty"`
	Type         string            `json:"type,omitempty"`
}

type Dependency struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	Repository string `json:"repository"`
	Condition  string `json:"condition,omitempty"`
	Alias      string `json:"alias,omitempty"`
}

// KubeVersion and VersionSet mirror Helm's chartutil capabilities.
type KubeVersion struct{ Version, Major, Minor string }

func (k KubeVersion) String() string     { return k.Version }
func (k KubeVersion) GitVersion() string { return k.Version }

type VersionSet []string

func (v VersionSet) Has(apiVersion string) bool {
	for _, x := range v {
		if x == apiVersion {
			return true
		}
	}
	return false
}

type Capabilities struct {
	KubeVersion KubeVersion
	APIVersions VersionSet
	HelmVersion map[string]string
}

// Files mirrors Helm's .Files: the chart's files outside templates/ and charts/.
type Files map[string][]byte

func (f Files) GetBytes(name string) []byte { return f[name] }
func (f Files) Get(name string) string      { return string(f[name]) }
func (f Files) Glob(pattern string) Files {
	out := Files{}
	for name, data := range f {
		if ok, _ := path.Match(pattern, name); ok {
			out[name] = data
		}
	}
	return out
}
func (f Files) Lines(name string) []string {
	if f[name] == nil {
		return []string{}
	}
	return strings.Split(string(f[name]), "\n")
}

type chart struct {
	meta      Metadata
	values    map[string]interface{}
	templates map[string]string // file path relative to the chart -> source
	files     Files
	subcharts []*chart
	dir       string
	schema    []byte // values.schema.json, when the chart has one
}

// loadYAML reads YAML as Helm does (sigs.k8s.io/yaml: YAML 1.1 through JSON), so numbers become float64.
func loadYAML(data []byte, out interface{}) error {
	var raw interface{}
	if err := yaml.Unmarshal(data, &raw); err != nil {
		return err
	}
	j, err := json.Marshal(jsonable(raw))
	if err != nil {
		return err
	}
	if string(j) == "null" {
		return nil
	}
	return json.Unmarshal(j, out)
}

// jsonable turns yaml.v2's map[interface{}]interface{} into map[string]interface{}.
func jsonable(v interface{}) interface{} {
	switch t := v.(type) {
	case map[interface{}]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []interface{}:
		for i := range t {
			t[i] = jsonable(t[i])
		}
	}
	return v
}

func loadChart(dir string) (*chart, error) {
	c := &chart{dir: dir, values: map[string]interface{}{}, templates: map[string]string{}, files: Files{}}
	data, err := os.ReadFile(filepath.Join(dir, "Chart.yaml"))
	if err != nil {
		return nil, err
	}
	if err := loadYAML(data, &c.meta); err != nil {
		return nil, fmt.Errorf("%s/Chart.yaml: %w", dir, err)
	}
	if data, err := os.ReadFile(filepath.Join(dir, "values.yaml")); err == nil {
		if err := loadYAML(data, &c.values); err != nil {
			return nil, fmt.Errorf("%s/values.yaml: %w", dir, err)
		}
		if c.values == nil {
			c.values = map[string]interface{}{}
		}
	}
	err = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rel == "charts" {
				return filepath.SkipDir
			}
			return nil
		}
		body, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		switch {
		case strings.HasPrefix(rel, "templates/"):
			c.templates[rel] = string(body)
		case rel == "values.schema.json":
			c.schema = body
		case rel == "Chart.yaml" || rel == "values.yaml" || rel == "Chart.lock":
		default:
			c.files[rel] = body
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, dep := range c.meta.Dependencies {
		sub := filepath.Join(dir, "charts", dep.Name)
		if _, err := os.Stat(filepath.Join(sub, "Chart.yaml")); err == nil {
			s, err := loadChart(sub)
			if err != nil {
				return nil, err
			}
			if dep.Alias != "" {
				s.meta.Name = dep.Alias
			}
			c.subcharts = append(c.subcharts, s)
		}
	}
	return c, nil
}

// coalesce merges src (higher priority) over dst (defaults) like Helm: maps merge key by key, any other
// value replaces, and a null in src deletes the default.
func coalesce(src, dst map[string]interface{}) map[string]interface{} {
	out := map[string]interface{}{}
	for k, v := range dst {
		out[k] = v
	}
	for k, v := range src {
		if v == nil {
			delete(out, k)
			continue
		}
		sm, sok := v.(map[string]interface{})
		dm, dok := out[k].(map[string]interface{})
		if sok && dok {
			out[k] = coalesce(sm, dm)
		} else {
			out[k] = v
		}
	}
	return out
}

// coalesceChart gives every subchart its scoped values (parent's <name> over the subchart's defaults,
// with the parent's globals) and drops subcharts whose condition is false.
func coalesceChart(c *chart, vals map[string]interface{}) (map[string]interface{}, []*chart, error) {
	vals = coalesce(vals, c.values)
	var enabled []*chart
	for _, dep := range c.meta.Dependencies {
		name := dep.Name
		if dep.Alias != "" {
			name = dep.Alias
		}
		on := true
		for _, cond := range strings.Split(dep.Condition, ",") {
			if cond = strings.TrimSpace(cond); cond == "" {
				continue
			}
			if b, ok := lookupPath(vals, cond).(bool); ok {
				on = b
				break
			}
		}
		if !on {
			continue
		}
		var sub *chart
		for _, s := range c.subcharts {
			if s.meta.Name == name {
				sub = s
			}
		}
		if sub == nil {
			if skipMissing {
				fmt.Fprintf(os.Stderr, "helm-render: dependency %q is not in %s/charts/ (run `helm dependency build`); its templates and default values are not rendered\n", name, c.dir)
				continue
			}
			return nil, nil, fmt.Errorf("found in Chart.yaml, but missing in charts/ directory: %s", name)
		}
		scoped, _ := vals[name].(map[string]interface{})
		if scoped == nil {
			scoped = map[string]interface{}{}
		}
		global, _ := vals["global"].(map[string]interface{})
		subGlobal, _ := scoped["global"].(map[string]interface{})
		scoped["global"] = coalesce(global, subGlobal)
		subVals, _, err := coalesceChart(sub, scoped)
		if err != nil {
			return nil, nil, err
		}
		vals[name] = subVals
		enabled = append(enabled, sub)
	}
	return vals, enabled, nil
}

func lookupPath(vals map[string]interface{}, dotted string) interface{} {
	var node interface{} = vals
	for _, key := range strings.Split(dotted, ".") {
		m, ok := node.(map[string]interface{})
		if !ok {
			return nil
		}
		node = m[key]
	}
	return node
}

// parseSet applies one --set a.b.c=value like Helm's strvals for the simple forms: dotted keys, {a,b}
// lists, and int64/bool/null typing of scalars.
func parseSet(vals map[string]interface{}, expr string) error {
	eq := strings.Index(expr, "=")
	if eq <= 0 {
		return fmt.Errorf("--set %q: expected key=value", expr)
	}
	keys := strings.Split(expr[:eq], ".")
	raw := expr[eq+1:]
	var value interface{}
	if strings.HasPrefix(raw, "{") && strings.HasSuffix(raw, "}") {
		list := []interface{}{}
		if inner := raw[1 : len(raw)-1]; inner != "" {
			for _, item := range strings.Split(inner, ",") {
				list = append(list, typedScalar(item))
			}
		}
		value = list
	} else {
		value = typedScalar(raw)
	}
	node := vals
	for _, key := range keys[:len(keys)-1] {
		next, ok := node[key].(map[string]interface{})
		if !ok {
			next = map[string]interface{}{}
			node[key] = next
		}
		node = next
	}
	node[keys[len(keys)-1]] = value
	return nil
}

func typedScalar(s string) interface{} {
	switch s {
	case "true":
		return true
	case "false":
		return false
	case "null":
		return nil
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil && (s == "0" || !strings.HasPrefix(s, "0")) {
		return i
	}
	return s
}

func toYAML(v interface{}) string {
	j, err := json.Marshal(v)
	if err != nil {
		return ""
	}
	var obj interface{}
	if err := yaml.Unmarshal(j, &obj); err != nil {
		return ""
	}
	data, err := yaml.Marshal(obj)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(data), "\n")
}

func fromYAML(s string) map[string]interface{} {
	m := map[string]interface{}{}
	if err := loadYAML([]byte(s), &m); err != nil {
		return map[string]interface{}{"Error": err.Error()}
	}
	return m
}

// validateSchemas checks the coalesced values against each chart's values.schema.json with the validator
// Helm uses (gojsonschema), the chart's own and each rendered subchart's against its scoped values, and
// reports every violation as Helm does.
func validateSchemas(c *chart, vals map[string]interface{}, subs []*chart) error {
	var sb strings.Builder
	if c.schema != nil {
		j, err := json.Marshal(vals)
		if err != nil {
			return err
		}
		result, err := gojsonschema.Validate(gojsonschema.NewBytesLoader(c.schema), gojsonschema.NewBytesLoader(j))
		if err != nil {
			return fmt.Errorf("%s/values.schema.json: %w", c.dir, err)
		}
		if !result.Valid() {
			sb.WriteString(c.meta.Name + ":\n")
			for _, e := range result.Errors() {
				sb.WriteString(fmt.Sprintf("- %s\n", e))
			}
		}
	}
	for _, s := range subs {
		subVals, _ := vals[s.meta.Name].(map[string]interface{})
		_, grand, _ := coalesceChart(s, subVals)
		if err := validateSchemas(s, subVals, grand); err != nil {
			sb.WriteString(err.Error())
		}
	}
	if sb.Len() > 0 {
		return errors.New(sb.String())
	}
	return nil
}

type renderer struct {
	root    *template.Template
	sources map[string]string // template name -> its text
	ctx     map[string]map[string]interface{}
	depth   int
}

func (r *renderer) funcs() template.FuncMap {
	f := sprig.TxtFuncMap()
	delete(f, "env")
	delete(f, "expandenv")
	f["toYaml"] = toYAML
	f["fromYaml"] = fromYAML
	f["toJson"] = func(v interface{}) string {
		b, err := json.Marshal(v)
		if err != nil {
			return ""
		}
		return string(b)
	}
	f["fromJson"] = func(s string) map[string]interface{} {
		m := map[string]interface{}{}
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			m["Error"] = err.Error()
		}
		return m
	}
	f["required"] = func(msg string, v interface{}) (interface{}, error) {
		if v == nil {
			return v, errors.New(msg)
		}
		if s, ok := v.(string); ok && s == "" {
			return v, errors.New(msg)
		}
		return v, nil
	}
	f["fail"] = func(msg string) (string, error) { return "", errors.New(msg) }
	// Nothing is installed where this renders, as with `helm template`.
	f["lookup"] = func(apiVersion, kind, namespace, name string) (map[string]interface{}, error) {
		return map[string]interface{}{}, nil
	}
	f["include"] = func(name string, data interface{}) (string, error) {
		r.depth++
		defer func() { r.depth-- }()
		if r.depth > 1000 {
			return "", fmt.Errorf("rendering template has a nested reference name: %s", name)
		}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, data); err != nil {
			return "", err
		}
		return buf.String(), nil
	}
	f["tpl"] = func(text string, data interface{}) (string, error) {
		t, err := r.root.Clone()
		if err != nil {
			return "", err
		}
		t, err = t.New("tpl").Parse(text)
		if err != nil {
			return "", fmt.Errorf("cannot parse template %q: %w", text, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return "", err
		}
		return strings.ReplaceAll(buf.String(), "<no value>", ""), nil
	}
	return f
}

type manifest struct {
	Source  string `json:"source"`
	Content string `json:"content"`
}

var skipMissing bool

func main() {
	var valueFiles, sets stringList
	release := flag.String("release", "tapgate", "release name")
	namespace := flag.String("namespace", "default", "release namespace")
	kubeVersion := flag.String("kube-version", "v1.31.0", "Kubernetes version for .Capabilities")
	apiVersions := flag.String("api-versions", "", "extra API versions for .Capabilities.APIVersions, comma-separated")
	output := flag.String("output", "json", "json or yaml")
	flag.BoolVar(&skipMissing, "skip-missing-dependencies", false, "render without dependencies missing from charts/")
	flag.Var(&valueFiles, "f", "values file (repeatable)")
	flag.Var(&sets, "set", "key=value (repeatable)")
	flag.Parse()
	if flag.NArg() != 1 || (*output != "json" && *output != "yaml") {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *release, *namespace, *kubeVersion, *apiVersions, *output, valueFiles, sets); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

func run(dir, release, namespace, kubeVersion, apiVersions, output string, valueFiles, sets []string) error {
	c, err := loadChart(dir)
	if err != nil {
		return err
	}
	user := map[string]interface{}{}
	for _, f := range valueFiles {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		m := map[string]interface{}{}
		if err := loadYAML(data, &m); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		user = coalesce(m, user)
	}
	for _, s := range sets {
		if err := parseSet(user, s); err != nil {
			return err
		}
	}
	kv, err := semver.NewVersion(kubeVersion)
	if err != nil {
		return fmt.Errorf("--kube-version %q: %w", kubeVersion, err)
	}
	if c.meta.KubeVersion != "" {
		constraint, err := semver.NewConstraint(c.meta.KubeVersion)
		if err != nil {
			return fmt.Errorf("Chart.yaml kubeVersion: %w", err)
		}
		if !constraint.Check(kv) {
			return fmt.Errorf("chart requires kubeVersion: %s which is incompatible with Kubernetes %s", c.meta.KubeVersion, kubeVersion)
		}
	}
	vals, subs, err := coalesceChart(c, user)
	if err != nil {
		return err
	}
	if err := validateSchemas(c, vals, subs); err != nil {
		return fmt.Errorf("values don't meet the specifications of the schema(s) in the following chart(s):\n%s", err)
	}
	apis := VersionSet{"v1", "apps/v1", "batch/v1", "policy/v1", "autoscaling/v1", "autoscaling/v2",
		"networking.k8s.io/v1", "rbac.authorization.k8s.io/v1", "storage.k8s.io/v1", "coordination.k8s.io/v1"}
	for _, a := range strings.Split(apiVersions, ",") {
		if a = strings.TrimSpace(a); a != "" {
			apis = append(apis, a)
		}
	}
	caps := &Capabilities{
		KubeVersion: KubeVersion{Version: "v" + kv.String(), Major: strconv.FormatUint(kv.Major(), 10), Minor: strconv.FormatUint(kv.Minor(), 10)},
		APIVersions: apis,
		HelmVersion: map[string]string{"version": "v3.16.0"},
	}
	releaseObj := map[string]interface{}{"Name": release, "Namespace": namespace, "IsUpgrade": false, "IsInstall": true, "Revision": 1, "Service": "Helm"}

	r := &renderer{sources: map[string]string{}, ctx: map[string]map[string]interface{}{}}
	r.root = template.New("gotpl").Option("missingkey=zero")
	r.root.Funcs(r.funcs())
	// Every chart's templates share one namespace of defines, as in Helm; each file keeps its own scope.
	var collect func(ch *chart, prefix string, values map[string]interface{}, subList []*chart)
	var names []string
	collect = func(ch *chart, prefix string, values map[string]interface{}, subList []*chart) {
		for rel, src := range ch.templates {
			name := prefix + "/" + rel
			names = append(names, name)
			r.ctx[name] = map[string]interface{}{
				"Values": values, "Release": releaseObj, "Chart": &ch.meta, "Capabilities": caps,
				"Files": ch.files, "Template": map[string]interface{}{"Name": name, "BasePath": prefix + "/templates"},
			}
			r.sources[name] = src
		}
		for _, s := range subList {
			subVals, _ := values[s.meta.Name].(map[string]interface{})
			_, grand, _ := coalesceChart(s, subVals)
			collect(s, prefix+"/charts/"+s.meta.Name, subVals, grand)
		}
	}
	collect(c, c.meta.Name, vals, subs)
	// Deeper (subchart) files first, so the parent's defines win, as Helm's sortTemplates arranges.
	sort.Slice(names, func(i, j int) bool {
		di, dj := strings.Count(names[i], "/"), strings.Count(names[j], "/")
		if di != dj {
			return di > dj
		}
		return names[i] < names[j]
	})
	for _, name := range names {
		if _, err := r.root.New(name).Parse(r.sources[name]); err != nil {
			return fmt.Errorf("parse error in %q: %w", name, err)
		}
	}
	var out []manifest
	notes := ""
	for _, name := range names {
		if strings.HasPrefix(path.Base(name), "_") {
			continue
		}
		var buf bytes.Buffer
		if err := r.root.ExecuteTemplate(&buf, name, r.ctx[name]); err != nil {
			return err
		}
		text := strings.ReplaceAll(buf.String(), "<no value>", "")
		if strings.HasSuffix(name, "/NOTES.txt") {
			if name == c.meta.Name+"/templates/NOTES.txt" {
				notes = text
			}
			continue
		}
		if strings.TrimSpace(text) == "" {
			continue
		}
		out = append(out, manifest{Source: name, Content: text})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Source < out[j].Source })
	if output == "yaml" {
		for _, m := range out {
			for _, doc := range strings.Split(m.Content, "\n---") {
				if strings.TrimSpace(doc) == "" {
					continue
				}
				fmt.Printf("---\n# Source: %s\n%s\n", m.Source, strings.TrimSpace(strings.TrimPrefix(doc, "---")))
			}
		}
		return nil
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(map[string]interface{}{"manifests": out, "notes": notes})
}
