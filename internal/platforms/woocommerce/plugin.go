package woocommerce

import (
	"archive/zip"
	"bytes"
	"embed"
	"fmt"
	"io/fs"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
)

// pluginFS holds the gateway plugin's source.
//
//go:embed plugin/paybridge-upayments
var pluginFS embed.FS

var pluginZip = sync.OnceValues(func() ([]byte, error) { return PluginZip() })

// PluginZip builds the installable plugin archive (a paybridge-upayments/
// folder) from the embedded files, with fixed timestamps so that the
// bytes are the same on every build.
func PluginZip() ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	stamp := time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)
	err := fs.WalkDir(pluginFS, "plugin/paybridge-upayments", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := pluginFS.ReadFile(path)
		if err != nil {
			return err
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: path[len("plugin/"):], Method: zip.Deflate, Modified: stamp})
		if err != nil {
			return err
		}
		_, err = w.Write(b)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("woocommerce: build plugin zip: %w", err)
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("woocommerce: build plugin zip: %w", err)
	}
	return buf.Bytes(), nil
}

func (p *Platform) pluginZip(c *gin.Context) {
	b, err := pluginZip()
	if err != nil {
		p.fail(c, "en", err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="paybridge-upayments.zip"`)
	c.Data(http.StatusOK, "application/zip", b)
}
