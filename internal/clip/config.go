package clip

import clipcfg "github.com/gorpo/gorpo/align/clip"

// The configurations are public types of package align/clip (a program names them); this
// package builds the towers they describe.
type (
	TextConfig   = clipcfg.TextConfig
	VisionConfig = clipcfg.VisionConfig
	Config       = clipcfg.Config
	FieldError   = clipcfg.FieldError
)

// ErrUnsupported is align/clip's ErrUnsupported.
var ErrUnsupported = clipcfg.ErrUnsupported

// DefaultTextConfig is align/clip's DefaultTextConfig.
func DefaultTextConfig() TextConfig { return clipcfg.DefaultTextConfig() }

// DefaultVisionConfig is align/clip's DefaultVisionConfig.
func DefaultVisionConfig() VisionConfig { return clipcfg.DefaultVisionConfig() }

// DefaultConfig is align/clip's DefaultConfig.
func DefaultConfig() Config { return clipcfg.DefaultConfig() }

// LoadTextConfig is align/clip's LoadTextConfig.
func LoadTextConfig(path string) (TextConfig, error) { return clipcfg.LoadTextConfig(path) }

// LoadConfig is align/clip's LoadConfig.
func LoadConfig(path string) (Config, error) { return clipcfg.LoadConfig(path) }

// ParseTextConfig is align/clip's ParseTextConfig.
func ParseTextConfig(data []byte) (TextConfig, error) { return clipcfg.ParseTextConfig(data) }

// ParseVisionConfig is align/clip's ParseVisionConfig.
func ParseVisionConfig(data []byte) (VisionConfig, error) { return clipcfg.ParseVisionConfig(data) }

// ParseConfig is align/clip's ParseConfig.
func ParseConfig(data []byte) (Config, error) { return clipcfg.ParseConfig(data) }
